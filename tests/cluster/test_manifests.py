"""The deployment files of cluster/ parse, validate and carry the fields that make rayflow work.

No Ray is started here: the `ray up` config is checked with jsonschema against the schema that ships
inside the installed Ray (ray/autoscaler/ray-schema.json), and with Ray's own offline config checks;
the KubeRay manifests and the Dockerfile are read as text/YAML.
"""

from __future__ import annotations

import copy
import json
import re
import shlex
from pathlib import Path

import jsonschema
import pytest
import ray.autoscaler
import yaml

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = ROOT / "cluster"
RAY_UP = CLUSTER / "ray-up.yaml"
RAYCLUSTER = CLUSTER / "kuberay" / "raycluster.yaml"
RAYJOB = CLUSTER / "kuberay" / "rayjob.yaml"
SECRET = CLUSTER / "kuberay" / "secret.example.yaml"
DOCKERFILE = CLUSTER / "Dockerfile"
README = CLUSTER / "README.md"

RAY_IMAGE = "rayproject/ray:2.60.0-py311"
GPU_LABELS = ("ray.io/accelerator-type", "rayflow.io/pool")


def _load(path: Path) -> dict:
    docs = [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]
    assert len(docs) == 1, f"{path.name}: expected one YAML document, got {len(docs)}"
    return docs[0]


@pytest.fixture(scope="module")
def ray_schema() -> dict:
    schema_path = Path(ray.autoscaler.__file__).parent / "ray-schema.json"
    schema = json.loads(schema_path.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return schema


@pytest.fixture(scope="module")
def ray_up() -> dict:
    return _load(RAY_UP)


@pytest.fixture(scope="module")
def raycluster() -> dict:
    return _load(RAYCLUSTER)


@pytest.fixture(scope="module")
def rayjob() -> dict:
    return _load(RAYJOB)


@pytest.fixture(scope="module")
def secret() -> dict:
    return _load(SECRET)


# ---------------------------------------------------------------------------------------------- ray up


def test_ray_up_validates_against_ray_schema(ray_up, ray_schema):
    jsonschema.validate(ray_up, ray_schema)


def test_ray_up_passes_rays_own_config_checks(ray_up):
    """What `ray up` does before touching the cloud: fill in the provider's defaults, then validate."""
    from ray.autoscaler._private.commands import prepare_config
    from ray.autoscaler._private.util import validate_config

    validate_config(ray_up)
    validate_config(prepare_config(copy.deepcopy(ray_up)))


def _break_label_type(config):
    config["available_node_types"]["worker.gpu"]["labels"]["rayflow.io/pool"] = 1


def _break_resource_type(config):
    config["available_node_types"]["worker.gpu"]["resources"] = {"GPU": "one"}


def _break_unknown_node_field(config):
    config["available_node_types"]["worker.gpu"]["node_labels"] = {"rayflow.io/pool": "gpu"}


def _break_missing_node_config(config):
    del config["available_node_types"]["worker.cpu"]["node_config"]


def _break_missing_provider(config):
    del config["provider"]


def _break_unknown_top_level(config):
    config["start_ray_commands"] = ["ray start --head"]


@pytest.mark.parametrize(
    "breakage",
    [
        _break_label_type,
        _break_resource_type,
        _break_unknown_node_field,
        _break_missing_node_config,
        _break_missing_provider,
        _break_unknown_top_level,
    ],
)
def test_broken_ray_up_copy_does_not_validate(ray_up, ray_schema, breakage):
    """The schema check can fail: each deliberately broken copy is refused."""
    broken = copy.deepcopy(ray_up)
    breakage(broken)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, ray_schema)


def test_ray_up_node_types(ray_up):
    types = ray_up["available_node_types"]
    head = types[ray_up["head_node_type"]]
    assert "GPU" not in head["resources"], "the head is a CPU node"
    assert not head["node_config"]["InstanceType"].startswith(("g", "p")), "head instance must be a CPU type"

    gpu_types = {name: t for name, t in types.items() if t.get("labels", {}).get("rayflow.io/pool") == "gpu"}
    assert len(gpu_types) == 1, "one GPU worker type labelled rayflow.io/pool=gpu"
    ((gpu_name, gpu),) = gpu_types.items()
    assert gpu_name != ray_up["head_node_type"]
    assert set(GPU_LABELS) <= set(gpu["labels"])
    assert gpu["node_config"]["InstanceType"].startswith(("g", "p")), "GPU type on an AWS GPU instance"
    assert gpu["docker"]["worker_image"].startswith(RAY_IMAGE) and gpu["docker"]["worker_image"].endswith("-gpu")

    cpu_workers = [
        name
        for name, t in types.items()
        if name != ray_up["head_node_type"] and t.get("labels", {}).get("rayflow.io/pool") == "cpu"
    ]
    assert cpu_workers, "a CPU worker type"
    assert ray_up["docker"]["image"] == RAY_IMAGE


def test_ray_up_installs_cluster_extra_everywhere(ray_up):
    setup = " ".join(ray_up["setup_commands"])  # setup_commands run on the head and on every worker
    assert "pip install" in setup and "[cluster]" in setup
    for name, node_type in ray_up["available_node_types"].items():
        # A node type's own worker_setup_commands would replace the common ones: keep none.
        assert "worker_setup_commands" not in node_type, name
    assert not ray_up.get("worker_setup_commands")


def test_ray_up_store_url_reaches_ray_start_from_env_file(ray_up):
    mounts = ray_up["file_mounts"]
    env_remote = [remote for remote in mounts if remote.endswith(".env")]
    assert len(env_remote) == 1, "one env file mounted on every node"
    env_remote = env_remote[0]
    local = mounts[env_remote]
    assert local.startswith("~/"), "the env file lives outside the repository"

    for key in ("head_start_ray_commands", "worker_start_ray_commands"):
        start = [cmd for cmd in ray_up[key] if "ray start" in cmd]
        assert len(start) == 1, key
        cmd = start[0]
        # exported (set -a) and sourced before `ray start` in the same shell command
        assert cmd.index("set -a") < cmd.index(f". {env_remote}") < cmd.index("ray start"), key
    head_start = next(cmd for cmd in ray_up["head_start_ray_commands"] if "ray start" in cmd)
    assert "--head" in shlex.split(head_start)


def test_ray_up_holds_no_credentials():
    text = RAY_UP.read_text()
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert "postgresql://" not in body and "postgres://" not in body
    assert "RAYFLOW_STORE=" not in body and "RAY_AUTH_TOKEN=" not in body


# --------------------------------------------------------------------------------------------- KubeRay


def _groups(raycluster):
    spec = raycluster["spec"]
    yield "head", spec["headGroupSpec"]
    for group in spec["workerGroupSpecs"]:
        yield group["groupName"], group


def _ray_container(group):
    return group["template"]["spec"]["containers"][0]


def _env(container, name):
    matches = [e for e in container.get("env", []) if e["name"] == name]
    assert len(matches) == 1, f"{container['name']}: one {name}"
    return matches[0]


def test_raycluster_kind_and_version(raycluster):
    assert raycluster["apiVersion"] == "ray.io/v1"
    assert raycluster["kind"] == "RayCluster"
    assert raycluster["spec"]["rayVersion"] == "2.60.0"
    assert "headGroupSpec" in raycluster["spec"]
    assert _ray_container(raycluster["spec"]["headGroupSpec"])["name"] == "ray-head"


def test_raycluster_gpu_group(raycluster):
    gpu_groups = [g for _, g in _groups(raycluster) if g.get("labels", {}).get("rayflow.io/pool") == "gpu"]
    assert len(gpu_groups) == 1
    gpu = gpu_groups[0]
    assert gpu in raycluster["spec"]["workerGroupSpecs"]
    assert gpu["labels"]["ray.io/accelerator-type"], "accelerator type label set"
    limits = _ray_container(gpu)["resources"]["limits"]
    assert int(limits["nvidia.com/gpu"]) >= 1
    # KubeRay >= 1.5 refuses rayStartParams['labels'] next to the top-level labels field
    for name, group in _groups(raycluster):
        assert "labels" not in group.get("rayStartParams", {}), name
    cpu_groups = [g for g in raycluster["spec"]["workerGroupSpecs"] if g is not gpu]
    assert cpu_groups and all(
        "nvidia.com/gpu" not in _ray_container(g)["resources"].get("limits", {}) for g in cpu_groups
    )


def test_raycluster_store_url_from_secret_in_head_and_workers(raycluster, secret):
    assert secret["apiVersion"] == "v1" and secret["kind"] == "Secret"
    secret_name = secret["metadata"]["name"]
    secret_keys = set(secret.get("stringData", {})) | set(secret.get("data", {}))
    names = []
    for name, group in _groups(raycluster):
        env = _env(_ray_container(group), "RAYFLOW_STORE")
        assert "value" not in env, f"{name}: RAYFLOW_STORE must not be inline"
        ref = env["valueFrom"]["secretKeyRef"]
        assert ref["name"] == secret_name, name
        assert ref["key"] in secret_keys, name
        names.append(name)
    assert len(names) >= 3, "head, CPU group and GPU group"


def test_raycluster_image_is_built_from_dockerfile(raycluster):
    images = {_ray_container(group)["image"] for _, group in _groups(raycluster)}
    assert len(images) == 1, f"one image for every Ray container, got {images}"
    image = images.pop()
    assert image.rsplit("/", 1)[-1].startswith("rayflow:"), image
    assert "cluster/Dockerfile" in RAYCLUSTER.read_text(), "the manifest says how the image is built"


def test_rayjob_runs_ml_pipeline_on_the_raycluster(rayjob, raycluster):
    assert rayjob["apiVersion"] == "ray.io/v1"
    assert rayjob["kind"] == "RayJob"
    spec = rayjob["spec"]
    assert shlex.split(spec["entrypoint"]) == ["python", "examples/ml_pipeline.py"]
    # clusterSelector mode (the manifest's comment says why), so no embedded cluster spec
    assert spec["clusterSelector"] == {"ray.io/cluster": raycluster["metadata"]["name"]}
    assert "rayClusterSpec" not in spec
    assert not spec.get("shutdownAfterJobFinishes", False)
    runtime_env = yaml.safe_load(spec["runtimeEnvYAML"])
    assert runtime_env["working_dir"] == _dockerfile_workdir()
    assert "RAYFLOW_STORE" not in json.dumps(runtime_env), "the store URL comes from the cluster, not the job"


# ------------------------------------------------------------------------------------------- Dockerfile


def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def _dockerfile_workdir() -> str:
    workdirs = [rest for keyword, rest in _dockerfile_instructions() if keyword == "WORKDIR"]
    assert workdirs, "the Dockerfile sets a WORKDIR"
    return workdirs[-1]


def test_dockerfile_base_image_and_install():
    instructions = _dockerfile_instructions()
    froms = [rest for keyword, rest in instructions if keyword == "FROM"]
    assert froms == [RAY_IMAGE]
    runs = " ".join(rest for keyword, rest in instructions if keyword == "RUN")
    assert re.search(r"pip install\b.*['\"]?\.\[cluster\]['\"]?", runs), runs
    copies = [rest for keyword, rest in instructions if keyword == "COPY"]
    assert any("pyproject.toml" in c for c in copies) and any("rayflow" in c.split() for c in copies)


def test_dockerfile_runs_as_image_user_and_holds_no_secret():
    instructions = _dockerfile_instructions()
    users = [rest for keyword, rest in instructions if keyword == "USER"]
    assert not users or users[-1] not in ("root", "0"), "runs as the base image's user"
    baked = " ".join(rest for keyword, rest in instructions if keyword in ("ENV", "ARG")).upper()
    for name in ("RAYFLOW_STORE", "RAY_AUTH_TOKEN", "PASSWORD"):
        assert name not in baked, f"{name} baked into the image"
    assert "postgresql://" not in DOCKERFILE.read_text()
    for keyword, rest in instructions:
        if keyword == "COPY":
            sources = [word for word in rest.split()[:-1] if not word.startswith("--")]
            assert "." not in sources, "copy named paths, not the whole checkout (.venv, .git, .rayflow data)"


# ----------------------------------------------------------------------------------------------- README


def test_readme_recovery_times_and_health_check_defaults():
    """The README's health-check defaults are the installed Ray's (read from its config, Ray not started)."""
    from ray._raylet import Config

    text = README.read_text()
    assert "### Measured recovery times" in text and "tests/cluster/node_loss.py" in text
    for name in (
        "health_check_period_ms",
        "health_check_timeout_ms",
        "health_check_failure_threshold",
        "health_check_initial_delay_ms",
    ):
        value = getattr(Config, name)()
        assert re.search(rf"`{name}`\s*\|\s*{value}\b", text), f"README table row for {name} = {value}"
    for path in ("cluster/ray-up.yaml", "cluster/kuberay/", "cluster/Dockerfile", "examples/ml_pipeline.py"):
        assert path in text, path
    assert "RAY_AUTH_MODE=token" in text
