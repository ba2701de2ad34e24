"""Frontend (internal): the gRPC server in front of the service actors, and the client side of it.

``server`` runs inside a Ray driver (``rayflow server start``) and maps each ``WorkflowService`` RPC to
the history and matching clients; ``remote`` is what ``Client.connect("host:port")`` uses and imports
no Ray; ``errors`` maps rayflow's exceptions to gRPC status codes and back, for both sides.
"""
