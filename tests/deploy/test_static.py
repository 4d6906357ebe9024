"""Static checks of the deployment examples: schedules mean what their comments say, the compose file,
ofelia.ini and the Kubernetes CronJob agree with each other and with the image, and no example holds
a secret value. The crontab lines are also executed with stand-in commands to prove their output and
lock handling."""

from __future__ import annotations

import fcntl
import json
import re
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from croniter import croniter

from unifi_scanner.settings import Settings, _is_secret

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "docker" / "Dockerfile"
COMPOSE = REPO / "docker" / "compose.yml"
K8S = REPO / "docker" / "k8s" / "cronjob.yaml"
K8S_SHARDED = REPO / "docker" / "k8s" / "sharded-cronjob.yaml"
OFELIA_INI = REPO / "ofelia.ini"
CRONTAB = REPO / "crontab.example"
EXAMPLES = [DOCKERFILE, COMPOSE, K8S, K8S_SHARDED, OFELIA_INI, CRONTAB, REPO / "docker" / "build-base.sh"]

JOB = "unifi-scanner"
STATE_VOLUME = "unifi-scanner-data"
UID = 1000
# A Wednesday, so every kind of schedule has its first run after some skipped days or hours.
BASE = datetime(2026, 3, 4, 10, 30)
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
OFELIA_DESCRIPTORS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
CRON_JOB_LINE = re.compile(r"^#?(?P<schedule>(?:\S+\s+){4}\S+)\s+(?P<command>.+)$")


# ------------------------------------------------------------------------------------------ helpers


def expected_fires(comment: str, count: int = 3) -> list[datetime]:
    """The next `count` run times after BASE that a schedule comment promises.

    Understood comments: "hourly at minute M", "daily at HH:MM", "weekly on <Weekday> at HH:MM".
    """
    if match := re.search(r"hourly at minute (\d+)", comment):
        first, period = BASE.replace(minute=int(match[1])), timedelta(hours=1)
    elif match := re.search(r"daily at (\d\d):(\d\d)", comment):
        first, period = BASE.replace(hour=int(match[1]), minute=int(match[2])), timedelta(days=1)
    elif match := re.search(r"weekly on (\w+) at (\d\d):(\d\d)", comment):
        days_ahead = (WEEKDAYS.index(match[1]) - BASE.weekday()) % 7
        first = (BASE + timedelta(days=days_ahead)).replace(hour=int(match[2]), minute=int(match[3]))
        period = timedelta(days=7)
    else:
        raise AssertionError(f"schedule comment {comment!r} does not say when the job runs")
    first = first.replace(second=0)
    if first <= BASE:
        first += period
    return [first + n * period for n in range(count)]


def cron_fires(expression: str, *, seconds_first: bool = False, count: int = 3) -> list[datetime]:
    """The next `count` run times after BASE of a cron expression, computed by croniter."""
    schedule = croniter(expression, BASE, second_at_beginning=seconds_first)
    return [schedule.get_next(datetime) for _ in range(count)]


def check_ofelia_schedule(schedule: str, comment: str) -> None:
    """Assert an Ofelia schedule reads the same on every release and fires when `comment` says.

    Ofelia 0.3.x parses six fields with seconds first and reads five fields the same way (so `0 8 * * *`
    would run hourly); netresearch and 0.4 read five fields as standard cron. Only descriptors and six
    fields with a fixed second mean one thing everywhere.
    """
    if schedule.startswith("@"):
        every = re.fullmatch(r"@every \d+[hms](\d+[ms])*", schedule)
        assert schedule in OFELIA_DESCRIPTORS or every, f"unknown Ofelia descriptor {schedule!r}"
        if schedule.startswith("@every"):
            return
        fires = cron_fires(schedule)
    else:
        fields = schedule.split()
        assert len(fields) == 6, f"Ofelia schedule {schedule!r} must have six fields (seconds first)"
        assert re.fullmatch(r"[0-5]?\d", fields[0]), f"{schedule!r}: the seconds field must be one number"
        fires = cron_fires(schedule, seconds_first=True)
    assert fires == expected_fires(comment), f"{schedule!r} does not run {comment!r}"


def comment_above(lines: list[str], index: int) -> str:
    """The comment line directly above line `index` (a schedule's comment says when it runs)."""
    above = lines[index - 1].strip()
    assert above.startswith(("#", ";")), f"no comment above {lines[index]!r}"
    return above.lstrip("#; ")


def parse_ofelia_ini(text: str) -> dict[str, dict[str, list[str]]]:
    """Parse Ofelia's gcfg-style INI: `[job-run "name"]` sections, repeatable `key = value` lines."""
    jobs: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith((";", "#")):
            continue
        if section := re.fullmatch(r'\[(?P<type>[\w-]+)\s+"(?P<name>[^"]+)"\]', line):
            current = jobs.setdefault(f"{section['type']}.{section['name']}", {})
            continue
        assert current is not None and "=" in line, f"ofelia.ini: unexpected line {raw!r}"
        key, _, value = line.partition("=")
        # gcfg starts a comment at an unquoted ; or # and treats quotes and backslashes specially.
        assert not re.search(r'[;#"\\]', value), f"ofelia.ini: value needs quoting: {raw!r}"
        current.setdefault(key.strip().lower(), []).append(value.strip())
    return jobs


def parse_ofelia_labels(labels: dict[str, str]) -> dict[str, dict[str, list[str]]]:
    """Turn `ofelia.<type>.<job>.<key>` labels into the same shape as `parse_ofelia_ini`."""
    jobs: dict[str, dict[str, list[str]]] = {}
    for label, value in labels.items():
        parts = label.split(".")
        if len(parts) != 4 or not parts[1].startswith("job-"):
            continue
        _, job_type, name, key = parts
        values = json.loads(value) if value.lstrip().startswith("[") else [value]
        jobs.setdefault(f"{job_type}.{name}", {})[key] = [str(item) for item in values]
    return jobs


def env_pairs(entries: list[str]) -> dict[str, str]:
    """`K=V` strings as a dict."""
    return dict(entry.split("=", 1) for entry in entries)


def secret_env_names() -> set[str]:
    """Every environment variable that would carry a secret value (the `_FILE` forms are fine)."""
    return {f"UNIFI_{name.upper()}" for name, info in Settings.model_fields.items() if _is_secret(info)}


def check_secret_files(env: dict[str, str], mounted_read_only: list[str]) -> None:
    """Assert each UNIFI_*_FILE names a file under a read-only mount, and every secret comes that way."""
    files = {key: value for key, value in env.items() if key.endswith("_FILE")}
    assert {"UNIFI_PASSWORD_FILE", "UNIFI_SMTP_PASSWORD_FILE"} <= set(files)
    for key, path in files.items():
        assert key.removesuffix("_FILE") in secret_env_names(), f"{key} is not a secret setting"
        assert any(path.startswith(mount.rstrip("/") + "/") for mount in mounted_read_only), (key, path)


@pytest.fixture(scope="module")
def compose() -> dict:
    """docker/compose.yml, loaded."""
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def ofelia_labels(compose: dict) -> dict[str, dict[str, list[str]]]:
    """The Ofelia jobs declared by labels on the Ofelia service."""
    return parse_ofelia_labels(compose["services"]["ofelia"]["labels"])


@pytest.fixture(scope="module")
def k8s() -> dict[str, dict]:
    """docker/k8s/cronjob.yaml, one document per kind."""
    return {doc["kind"]: doc for doc in yaml.safe_load_all(K8S.read_text())}


# ------------------------------------------------------------------------------------------ Dockerfile


def test_dockerfile_shape() -> None:
    """The image is overridable, multi-stage, non-root 1000, tini-wrapped, JSON-logging, with no probe."""
    text = DOCKERFILE.read_text()
    instructions = [line for line in text.splitlines() if line and not line.startswith((" ", "#"))]
    assert instructions[0] == "ARG BASE_IMAGE=python:3.12-slim-bookworm"
    assert [line for line in instructions if line.startswith("FROM")] == [
        "FROM ${BASE_IMAGE} AS build", "FROM ${BASE_IMAGE}"]
    # A syntax directive makes BuildKit fetch a frontend image; a health probe has nothing to probe.
    assert not re.search(r"^#\s*syntax=", text, re.M | re.I)
    assert not any(line.startswith("HEALTHCHECK") for line in instructions)
    assert "COPY --from=build /opt/venv /opt/venv" in instructions
    assert f"USER {UID}:{UID}" in instructions
    assert f"chown {UID}:{UID} /data" in text
    assert 'ENTRYPOINT ["/usr/bin/tini", "--", "unifi-scanner"]' in instructions
    assert instructions[-1] == 'CMD ["run"]'
    assert "--mount=type=secret,id=ca" in text and "PIP_CERT=/run/secrets/ca" in text
    for env in ("UNIFI_REPORTS_DIR=/data", "UNIFI_STATE_DIR=/data", "UNIFI_LOG_FORMAT=json"):
        assert env in text


def test_dockerignore_keeps_the_context_small() -> None:
    """Only the package, templates and build metadata reach the build context."""
    lines = (REPO / ".dockerignore").read_text().splitlines()
    rules = [line for line in lines if line and not line.startswith("#")]
    assert rules[0] == "*"
    assert {"!pyproject.toml", "!README.md", "!unifi_scanner/", "!templates/"} <= set(rules)


# ------------------------------------------------------------------------------------------ crontab


def crontab_jobs() -> list[tuple[str, str, str]]:
    """Every job line of crontab.example, enabled or disabled ("#" then a digit or "*"), as
    (schedule, command, comment above)."""
    lines = CRONTAB.read_text().splitlines()
    jobs = []
    for index, line in enumerate(lines):
        if not line or line.startswith("# ") or line == "#" or "=" in line.split()[0]:
            continue
        match = CRON_JOB_LINE.match(line)
        assert match, f"crontab.example: not a job line: {line!r}"
        jobs.append((match["schedule"], match["command"], comment_above(lines, index)))
    return jobs


def test_crontab_environment() -> None:
    """PATH and MAILTO are set; CRON_TZ is only mentioned as a cronie feature, never set."""
    text = CRONTAB.read_text()
    assert re.search(r"^PATH=/\S+$", text, re.M)
    assert re.search(r"^MAILTO=\S+$", text, re.M)
    assert "CRON_TZ" in text and "cronie" in text
    assert not re.search(r"^CRON_TZ=", text, re.M)


def test_crontab_lines_mean_what_their_comments_say() -> None:
    """Hourly, daily 08:00 and weekly Monday 08:00, for the host and the compose variant."""
    jobs = crontab_jobs()
    comments = [comment for _, _, comment in jobs]
    for wanted in ("hourly", "daily at 08:00", "weekly on Monday at 08:00"):
        assert sum(wanted in comment for comment in comments) == 2, wanted
    for schedule, _, comment in jobs:
        assert croniter.is_valid(schedule), schedule
        assert cron_fires(schedule) == expected_fires(comment), f"{schedule!r} vs {comment!r}"
    # Exactly one job is enabled: two enabled variants would run every report twice.
    enabled = [line for line in CRONTAB.read_text().splitlines() if line[:1].isdigit() or line[:1] == "*"]
    assert len(enabled) == 1


def test_crontab_commands() -> None:
    """Every job holds the lock with `flock -n -E 4`; compose runs without a TTY and removes its container."""
    commands = [command for _, command, _ in crontab_jobs()]
    assert all("flock -n -E 4 " in command and "%" not in command for command in commands)
    compose_runs = [command for command in commands if "docker compose" in command]
    assert len(compose_runs) == 3
    assert all(" run --rm -T scanner run " in command for command in compose_runs)
    assert all("-it" not in command.split() for command in commands)


@pytest.fixture
def stub_bin(tmp_path: Path) -> Path:
    """A directory with stand-ins for `unifi-scanner` and `docker` that log their argv and exit with
    $STUB_RC after printing a line."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("unifi-scanner", "docker"):
        stub = bin_dir / name
        stub.write_text(f'#!/bin/sh\necho "$*" >> "$STUB_LOG"\necho "{name} said something"\n'
                        'exit "$STUB_RC"\n')
        stub.chmod(0o755)
    return bin_dir


def run_cron_command(command: str, stub_bin: Path, home: Path, rc: int) -> tuple[str, list[str]]:
    """Run a crontab command the way cron does (sh -c, minimal environment); return what it printed
    (what cron would mail) and the stub invocations."""
    log = home / "stub.log"
    log.unlink(missing_ok=True)
    env = {"PATH": f"{stub_bin}:/usr/bin:/bin", "HOME": str(home), "SHELL": "/bin/sh",
           "STUB_LOG": str(log), "STUB_RC": str(rc), "TMPDIR": str(home)}
    result = subprocess.run(["/bin/sh", "-c", command], env=env, capture_output=True, text=True,
                            timeout=30)
    calls = log.read_text().splitlines() if log.exists() else []
    return result.stdout + result.stderr, calls


@pytest.mark.parametrize("command", sorted({command for _, command, _ in crontab_jobs()}))
def test_crontab_mails_only_on_failure(command: str, stub_bin: Path, tmp_path: Path) -> None:
    """Silent on success; on failure the exit code and the captured output; exit 4 while locked."""
    output, calls = run_cron_command(command, stub_bin, tmp_path, rc=0)
    assert output == "" and len(calls) == 1
    assert calls[0].endswith("run")
    assert list(tmp_path.glob("tmp.*")) == []  # the temporary output file is removed

    output, calls = run_cron_command(command, stub_bin, tmp_path, rc=3)
    assert "exit code 3" in output and "said something" in output

    lock = tmp_path / ".unifi-scanner-cron.lock"
    with lock.open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        output, calls = run_cron_command(command, stub_bin, tmp_path, rc=0)
    assert "exit code 4" in output and calls == []


# ------------------------------------------------------------------------------------------ Ofelia


def test_compose_file(compose: dict) -> None:
    """The scanner is built here, kept out of `up`, and shares the pinned state volume."""
    assert "version" not in compose
    scanner = compose["services"]["scanner"]
    assert scanner["image"] == "unifi-scanner:local"
    assert scanner["build"] == {"context": "..", "dockerfile": "docker/Dockerfile"}
    assert (COMPOSE.parent / scanner["build"]["context"] / scanner["build"]["dockerfile"]).is_file()
    assert scanner["pull_policy"] == "build"
    assert scanner["profiles"]
    assert scanner["user"] == f"{UID}:{UID}"
    assert scanner["volumes"] == ["data:/data"]
    assert compose["volumes"]["data"]["name"] == STATE_VOLUME
    secrets = compose["secrets"]
    assert set(scanner["secrets"]) <= set(secrets)
    assert all(Path(secrets[name]["file"]).is_absolute() for name in scanner["secrets"])
    check_secret_files(scanner["environment"], ["/run/secrets"])
    for key, path in scanner["environment"].items():
        if key.endswith("_FILE"):
            assert Path(path).name in scanner["secrets"], f"{key}: {path} is not a compose secret"


def test_ofelia_service(compose: dict) -> None:
    """Ofelia reads labels, reaches Docker, and schedules in a stated time zone."""
    ofelia = compose["services"]["ofelia"]
    assert ofelia["command"] == "daemon --docker"
    assert "/var/run/docker.sock:/var/run/docker.sock:ro" in ofelia["volumes"]
    assert ZoneInfo(ofelia["environment"]["TZ"])
    assert ofelia["labels"]["ofelia.enabled"] == "true"


def check_ofelia_job(job: dict[str, list[str]], compose: dict) -> None:
    """Assert one Ofelia job-run definition has every key the issue requires, with safe values."""
    assert job["image"] == [compose["services"]["scanner"]["image"]]
    assert job["command"] == ["run"]
    assert job["user"] == [f"{UID}:{UID}"]
    assert job["pull"] == ["false"]
    assert job["no-overlap"] == ["true"]
    assert f"{STATE_VOLUME}:/data" in job["volume"]
    read_only = [spec.split(":")[1] for spec in job["volume"] if spec.endswith(":ro")]
    env = env_pairs(job["environment"])
    check_secret_files(env, read_only)
    # The job needs the same settings as the compose service, which `docker compose run` uses.
    assert env == compose["services"]["scanner"]["environment"]


def test_ofelia_labels_define_the_job(compose: dict, ofelia_labels: dict) -> None:
    """One job-run on the Ofelia service, complete; its name has no dots (0.3.x splits on them)."""
    assert list(ofelia_labels) == [f"job-run.{JOB}"]
    check_ofelia_job(ofelia_labels[f"job-run.{JOB}"], compose)


def test_ofelia_ini_matches_the_labels(compose: dict, ofelia_labels: dict) -> None:
    """ofelia.ini defines the same jobs as the compose labels, key for key and value for value."""
    ini_jobs = parse_ofelia_ini(OFELIA_INI.read_text())
    assert ini_jobs == ofelia_labels
    check_ofelia_job(ini_jobs[f"job-run.{JOB}"], compose)


def test_ofelia_schedules_are_portable_and_mean_their_comments() -> None:
    """Every Ofelia schedule, in the labels and in ofelia.ini, is a descriptor or six fields, and
    fires when the comment above it says."""
    found = 0
    for path, pattern in ((COMPOSE, r"ofelia\.[\w-]+\.[\w-]+\.schedule:\s*\"(?P<s>[^\"]+)\""),
                          (OFELIA_INI, r"schedule\s*=\s*(?P<s>.+)")):
        lines = path.read_text().splitlines()
        for index, line in enumerate(lines):
            if match := re.search(pattern, line.strip()):
                check_ofelia_schedule(match["s"].strip(), comment_above(lines, index))
                found += 1
    assert found == 2


@pytest.mark.parametrize("schedule", ["0 8 * * *", "* * * * * *", "0 0 8 * *", "@reboot"])
def test_ofelia_schedule_rule_rejects_ambiguous_lines(schedule: str) -> None:
    """The rule itself: five fields, a wildcard second and unknown descriptors are refused."""
    with pytest.raises(AssertionError):
        check_ofelia_schedule(schedule, "daily at 08:00")


# ------------------------------------------------------------------------------------------ Kubernetes


def test_k8s_cronjob(k8s: dict[str, dict]) -> None:
    """Forbid overlap, a time zone, uid/fsGroup 1000, the PVC on /data, secrets as files from a Secret."""
    assert set(k8s) == {"PersistentVolumeClaim", "CronJob"}
    cronjob = k8s["CronJob"]
    assert cronjob["apiVersion"] == "batch/v1"
    spec = cronjob["spec"]
    assert spec["concurrencyPolicy"] == "Forbid"
    assert ZoneInfo(spec["timeZone"])
    lines = K8S.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if line.strip().startswith("schedule:"))
    assert cron_fires(spec["schedule"]) == expected_fires(comment_above(lines, index))

    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["securityContext"]["runAsUser"] == UID
    assert pod["securityContext"]["fsGroup"] == UID
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    (container,) = pod["containers"]
    assert container["args"] == ["run"]
    mounts = {mount["mountPath"]: mount for mount in container["volumeMounts"]}
    claim = volumes[mounts["/data"]["name"]]["persistentVolumeClaim"]["claimName"]
    assert claim == k8s["PersistentVolumeClaim"]["metadata"]["name"]
    secret_mounts = [path for path, mount in mounts.items()
                     if "secret" in volumes[mount["name"]] and mount.get("readOnly")]
    assert secret_mounts
    env = {item["name"]: item["value"] for item in container["env"]}
    assert all("valueFrom" not in item for item in container["env"])
    check_secret_files(env, secret_mounts)


# ------------------------------------------------------------------------------------------ all examples


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_no_secret_values_in_examples(path: Path) -> None:
    """No example sets a secret variable directly; every UNIFI_* name is a real setting."""
    fields = {f"UNIFI_{name.upper()}" for name in Settings.model_fields}
    for name in set(re.findall(r"\bUNIFI_[A-Z0-9_]+", path.read_text())):
        assert name not in secret_env_names(), f"{path.name}: {name} puts a secret value in plain text"
        assert name.removesuffix("_FILE") in fields, f"{path.name}: {name} is not a setting"



def test_readme_names_only_existing_examples() -> None:
    """Every docker/ path the README names (links, code spans, commands) exists, so a moved file is
    noticed. References such as `docker/compose#123` (an issue) are not paths and are not matched."""
    readme = (REPO / "README.md").read_text()
    named = set(re.findall(r"(?:\]\(|`|-f |sh )(docker/[\w./-]*\w)(?![\w#])", readme))
    assert {"docker/Dockerfile", "docker/compose.yml"} <= named
    assert [path for path in sorted(named) if not (REPO / path).exists()] == []
