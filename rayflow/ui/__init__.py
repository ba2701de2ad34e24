"""The web UI of ``rayflow server start`` (internal): an aiohttp app serving a JSON API and one static page.

``app`` builds the application and its listener, ``api`` answers ``/api/...`` through the frontend's own gRPC
API (a remote client per API key the browser sends), ``encode`` turns protobuf messages into the JSON the page
reads, ``flags`` holds the ``server start`` options of the UI. The page (``static/``) is plain JavaScript: no
build step and nothing fetched from the network.
"""
