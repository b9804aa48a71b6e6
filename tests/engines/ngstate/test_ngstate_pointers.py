"""JSON pointer URLs fetched server-side: public buckets without credentials, caps, time limits, address
checks."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import boto3
import pytest

from engines.ngstate import (
    NgState,
    PointerError,
    PointerOptions,
    StateParseError,
    load_state,
    to_url,
)
from tests.engines.ngstate.servers import GcsServer, TrickServer
from tests.engines.ngstate.states import EM_STATE, TIMELAPSE_STATE
from tests.support.range_server import RangeServer


@pytest.fixture
def state_host(tmp_path):
    folder = tmp_path / "states"
    folder.mkdir()
    (folder / "em.json").write_text(json.dumps(EM_STATE, indent=2))
    (folder / "not-a-state.json").write_text("[1, 2, 3]")
    with RangeServer(folder) as server:
        yield server


def test_https_pointer_is_fetched_and_parsed_in_order(state_host, policy):
    state = load_state(f"https://neuroglancer-demo.appspot.com/#!{state_host.url_for('em.json')}", policy)
    assert state == NgState(EM_STATE)


def test_pointer_follows_redirects(state_host, policy):
    assert load_state(f"#!{state_host.url_for('redirect/em.json')}", policy) == NgState(EM_STATE)


def test_inline_states_need_no_fetch(policy):
    assert load_state(to_url(NgState(TIMELAPSE_STATE)), policy) == NgState(TIMELAPSE_STATE)


def test_private_addresses_are_refused_without_the_operator_flag(state_host, strict_policy):
    with pytest.raises(PointerError, match="private address 127.0.0.1.*--allow-private-urls"):
        load_state(f"#!{state_host.url_for('em.json')}", strict_policy)
    assert state_host.log.count == 0  # refused before any byte went out


def test_every_redirect_hop_is_checked(policy):
    with TrickServer() as server, pytest.raises(PointerError, match="not an http"):
        load_state(f"#!{server.url}/to-file", policy)


def test_redirect_loops_end(state_host, policy):
    with pytest.raises(PointerError, match="redirects more than"):
        load_state(f"#!{state_host.url_for('loop/x.json')}", replace(policy, max_redirects=3))


def test_size_cap_with_a_declared_length(state_host, policy):
    with pytest.raises(PointerError, match="over the limit of 200 bytes"):
        load_state(f"#!{state_host.url_for('em.json')}", policy, PointerOptions(max_bytes=200))


def test_size_cap_without_a_declared_length(policy):
    with (
        TrickServer() as server,
        pytest.raises(PointerError, match="larger than the limit of 10,000 bytes"),
    ):
        load_state(f"#!{server.url}/chunked/50000", policy, PointerOptions(max_bytes=10_000))


def test_a_silent_server_times_out(state_host, policy):
    started = time.monotonic()
    with pytest.raises(PointerError, match="did not answer within 1 s"):
        load_state(f"#!{state_host.url_for('stall/em.json')}", replace(policy, request_timeout_s=1.0))
    assert time.monotonic() - started < 5


def test_a_dripping_server_is_cut_off(policy):
    started = time.monotonic()
    with TrickServer() as server, pytest.raises(PointerError, match="took too long"):
        load_state(f"#!{server.url}/drip", replace(policy, request_timeout_s=1.0))
    assert time.monotonic() - started < 5


def test_missing_and_non_state_documents(state_host, policy):
    with pytest.raises(PointerError, match="HTTP 404"):
        load_state(f"#!{state_host.url_for('gone.json')}", policy)
    with pytest.raises(StateParseError, match="does not hold a Neuroglancer state"):
        load_state(f"#!{state_host.url_for('not-a-state.json')}", policy)


@pytest.fixture(scope="module")
def s3_bucket(moto_s3):
    client = boto3.client(
        "s3",
        endpoint_url=moto_s3,
        region_name="us-east-1",
        aws_access_key_id="owner",
        aws_secret_access_key="owner",
    )
    client.create_bucket(Bucket="public-states")
    client.put_object(
        Bucket="public-states", Key="em/state.json", Body=json.dumps(EM_STATE).encode(), ACL="public-read"
    )
    client.put_object(
        Bucket="public-states", Key="private/state.json", Body=json.dumps(TIMELAPSE_STATE).encode()
    )
    return moto_s3


@pytest.fixture
def no_aws_credentials(monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


def test_public_s3_object_is_read_without_any_credentials(s3_bucket, policy, no_aws_credentials):
    state = load_state(
        "https://ng.example.org/#!s3://public-states/em/state.json",
        replace(policy, s3_endpoint_url=s3_bucket),
    )
    assert state == NgState(EM_STATE)


def test_private_s3_object_needs_the_servers_credentials(s3_bucket, policy, no_aws_credentials, monkeypatch):
    s3_policy = replace(policy, s3_endpoint_url=s3_bucket)
    with pytest.raises(PointerError, match="not public; the operator can enable"):
        load_state("#!s3://public-states/private/state.json", s3_policy)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "owner")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "owner")
    state = load_state(
        "#!s3://public-states/private/state.json", s3_policy, PointerOptions(use_cloud_credentials=True)
    )
    assert state == NgState(TIMELAPSE_STATE)


def test_s3_size_cap_and_missing_keys(s3_bucket, policy, no_aws_credentials):
    s3_policy = replace(policy, s3_endpoint_url=s3_bucket)
    with pytest.raises(PointerError, match="over the limit of 100 bytes"):
        load_state("#!s3://public-states/em/state.json", s3_policy, PointerOptions(max_bytes=100))
    with pytest.raises(PointerError, match="No object at s3://public-states/none.json"):
        load_state("#!s3://public-states/none.json", s3_policy)


def test_s3_endpoint_on_a_private_address_is_refused(s3_bucket, strict_policy, no_aws_credentials):
    with pytest.raises(PointerError, match="private address"):
        load_state("#!s3://public-states/em/state.json", replace(strict_policy, s3_endpoint_url=s3_bucket))


def test_public_gcs_object_is_read_anonymously(policy):
    objects = {("neuroglancer-demo", "states/em.json"): json.dumps(EM_STATE).encode()}
    with GcsServer(objects) as gcs:
        gcs_policy = replace(policy, gs_endpoint_url=gcs.url)
        assert load_state("#!gs://neuroglancer-demo/states/em.json", gcs_policy) == NgState(EM_STATE)
        with pytest.raises(PointerError, match="No object at gs://neuroglancer-demo/states/gone.json"):
            load_state("#!gs://neuroglancer-demo/states/gone.json", gcs_policy)
        with pytest.raises(PointerError, match="larger than the limit of 50 bytes"):
            load_state("#!gs://neuroglancer-demo/states/em.json", gcs_policy, PointerOptions(max_bytes=50))


def test_pointer_without_a_key_is_explained(policy):
    with pytest.raises(StateParseError, match="needs a bucket and an object key"):
        load_state("#!gs://bucket-only", policy)
