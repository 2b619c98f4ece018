"""Who may talk to the server: Host check, basic auth, sessions bound to users; forged and repeated answers."""

import base64

import pytest
from fastapi.testclient import TestClient

from elkit.annotate import Store
from elkit.annotate.access import AUTH_ENVIRONMENT, AccessSettings, is_loopback, parse_users
from elkit.annotate.controller import Controller
from elkit.annotate.recipes import ner_manual
from elkit.annotate.server import create_app
from elkit.cli.main import main
from elkit.errors import ConfigError

from .support import write_source

LOCAL = "http://127.0.0.1"


def credentials(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
def controller(tmp_path):
    recipe = ner_manual("news", write_source(tmp_path, ["Apple is in Paris.", "Berlin is big."]), ["ORG", "LOC"])
    return Controller(recipe, Store(tmp_path / "db.sqlite"))


@pytest.fixture
def guarded(controller):
    access = AccessSettings(host="127.0.0.1", users={"alice": "secret", "bob": "hunter2"})
    return TestClient(create_app(controller, access=access), base_url=LOCAL)


def test_without_credentials_the_server_answers_401(guarded):
    response = guarded.get("/api/config")
    assert response.status_code == 401 and response.headers["www-authenticate"].startswith("Basic")
    assert guarded.get("/api/config", headers=credentials("alice", "wrong")).status_code == 401
    assert guarded.get("/api/config", headers=credentials("mallory", "secret")).status_code == 401
    assert guarded.get("/api/config", headers={"Authorization": "Basic !!notbase64"}).status_code == 401
    assert guarded.get("/", headers=credentials("alice", "secret")).status_code == 200
    assert guarded.get("/api/config", headers=credentials("alice", "secret")).json()["user"] == "alice"


def test_a_user_cannot_read_or_write_another_users_session(guarded):
    alice = credentials("alice", "secret")
    task = guarded.post("/api/tasks", json={"session": "alice"}, headers=alice).json()["tasks"][0]
    answer = {"task_hash": task["_task_hash"], "answer": "ignore"}
    assert guarded.post("/api/answers", json={"session": "alice", "answers": [answer]},
                        headers=alice).status_code == 200
    bob = credentials("bob", "hunter2")
    assert guarded.get("/api/history", params={"session": "alice"}, headers=bob).status_code == 403
    assert guarded.get("/api/progress", params={"session": "alice"}, headers=bob).status_code == 403
    assert guarded.post("/api/tasks", json={"session": "alice"}, headers=bob).status_code == 403
    forged = guarded.post("/api/answers", json={"session": "alice", "answers": [{**answer, "answer": "reject"}]},
                          headers=bob)
    assert forged.status_code == 403
    history = guarded.get("/api/history", params={"session": "alice"}, headers=alice).json()["answers"]
    assert [task["answer"] for task in history] == ["ignore"]


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8080", "127.0.0.1.evil.example", "[::2]"])
def test_a_foreign_host_header_is_refused(controller, host):
    client = TestClient(create_app(controller), base_url=LOCAL)
    response = client.get("/api/config", headers={"Host": host})
    assert response.status_code == 400 and "--allowed-host" in response.json()["detail"]
    assert client.get("/api/config", headers={"Host": "localhost:8080"}).status_code == 200
    assert client.get("/api/config", headers={"Host": "[::1]:8080"}).status_code == 200


def test_allowed_hosts_are_added(controller):
    access = AccessSettings(host="127.0.0.1", allowed_hosts=["annotate.example.org"])
    client = TestClient(create_app(controller, access=access), base_url="http://annotate.example.org")
    assert client.get("/api/config").status_code == 200


def test_serving_beyond_loopback_needs_auth(monkeypatch, tmp_path):
    monkeypatch.delenv(AUTH_ENVIRONMENT, raising=False)
    with pytest.raises(ConfigError, match="--auth"):
        AccessSettings.build("0.0.0.0")
    assert AccessSettings.build("0.0.0.0", ["alice:pw"]).users == {"alice": "pw"}
    monkeypatch.setenv(AUTH_ENVIRONMENT, "alice:pw, bob:pw2")
    assert AccessSettings.build("192.168.1.5").users == {"alice": "pw", "bob": "pw2"}
    assert AccessSettings.build("127.0.0.1").auth  # the variable turns auth on for loopback too
    monkeypatch.delenv(AUTH_ENVIRONMENT)
    source = write_source(tmp_path, ["Apple is in Paris."])
    code = main(["annotate", "ner.manual", "news", str(source), "--label", "ORG", "--host", "0.0.0.0",
                 "--db", str(tmp_path / "db.sqlite")])
    assert code != 0


def test_user_pairs_are_checked():
    assert parse_users(["a:b:c"]) == {"a": "b:c"}  # the password may hold colons
    for bad in ["nocolon", "user:", ":password", "bad user:pw"]:
        with pytest.raises(ConfigError):
            parse_users([bad])
    with pytest.raises(ConfigError, match="twice"):
        parse_users(["a:1", "a:2"])
    assert is_loopback("127.0.0.2") and is_loopback("::1") and not is_loopback("0.0.0.0")


def test_forged_and_repeated_answers(controller):
    client = TestClient(create_app(controller), base_url=LOCAL)
    task = client.post("/api/tasks", json={"session": "alice"}).json()["tasks"][0]

    def post(**fields):
        return client.post("/api/answers", json={"session": "alice", "answers": [
            {"task_hash": task["_task_hash"], "answer": "accept", **fields}]})

    assert post(spans=[{"start": 1, "end": 5, "label": "ORG"}]).status_code == 400  # not on token boundaries
    assert post(spans=[{"start": 0, "end": 5, "label": "FOOD"}]).status_code == 400  # unknown label
    assert post(spans=[{"start": 0, "end": 5, "label": "ORG", "kb_id": "Q1"}]).status_code == 400  # forged link
    assert client.post("/api/answers", json={"session": "alice", "answers": [
        {"task_hash": 12345, "answer": "accept"}]}).status_code == 404  # never served
    first = post(spans=[{"start": 0, "end": 5, "label": "ORG"}])
    again = post(spans=[{"start": 0, "end": 5, "label": "ORG"}])
    assert first.status_code == again.status_code == 200
    assert (first.json()["new"], again.json()["new"], again.json()["unchanged"]) == (1, 0, 1)
    assert again.json()["answers"] == first.json()["answers"]
    assert controller.store.count("news") == 1


def test_a_database_that_keeps_refusing_the_write_is_a_503_not_a_500(controller, monkeypatch):
    from sqlalchemy.exc import IntegrityError

    client = TestClient(create_app(controller), base_url=LOCAL)
    task = client.post("/api/tasks", json={"session": "alice"}).json()["tasks"][0]
    attempts = []

    def refuse(*arguments):
        attempts.append(1)
        raise IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed"))

    monkeypatch.setattr(controller.store, "_save", refuse)
    response = client.post("/api/answers", json={"session": "alice", "answers": [
        {"task_hash": task["_task_hash"], "answer": "ignore"}]})
    assert response.status_code == 503 and "rolled back" in response.json()["detail"]
    assert len(attempts) == 5  # retried (another writer may have stored the same task) before giving up
