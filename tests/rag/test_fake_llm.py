"""The scripted LLM server behaves like OpenAI for the real `openai` client and for ChatOpenAI.

These tests prove the server itself (wire format, streaming, errors, timeouts, outages), so the product
tests and the benchmark built on it can trust what they see.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from testkit.scripted_llm import DEFAULT_MODEL, BrokenStreamReply, FakeLLM, TextReply, split_tokens
from tests.support.servers import port_is_open

pytestmark = pytest.mark.integration

MESSAGES = [
    {"role": "system", "content": "Answer from the sources."},
    {"role": "user", "content": "Who won?"},
]


def openai_client(fake: FakeLLM, **kwargs: Any) -> openai.OpenAI:
    """A real `openai.OpenAI` client for the server (close it, or use it as a context manager)."""
    kwargs.setdefault("max_retries", 0)
    kwargs.setdefault("timeout", 10.0)
    return openai.OpenAI(base_url=fake.base_url, api_key="test", **kwargs)


def chat_model(fake: FakeLLM, **kwargs: Any) -> ChatOpenAI:
    kwargs.setdefault("timeout", 10.0)
    return ChatOpenAI(base_url=fake.base_url, api_key=SecretStr("test"), model=DEFAULT_MODEL, max_retries=0, **kwargs)


@pytest.fixture
def client(fake_llm: FakeLLM) -> Iterator[openai.OpenAI]:
    with openai_client(fake_llm, timeout=5.0) as c:
        yield c


def _stream(client: openai.OpenAI, **kwargs: Any) -> list[Any]:
    return list(client.chat.completions.create(model="scripted", messages=MESSAGES, stream=True, **kwargs))


# --------------------------------------------------------------------------------- happy paths


def test_non_stream_completion_is_shaped_like_openai(fake_llm: FakeLLM, client: openai.OpenAI) -> None:
    fake_llm.queue_text("Team A won [1].")
    response = client.chat.completions.create(model="scripted", messages=MESSAGES, temperature=0)

    assert response.object == "chat.completion"
    assert response.id.startswith("chatcmpl-")
    assert response.model == "scripted"
    assert isinstance(response.created, int)
    [choice] = response.choices
    assert choice.index == 0
    assert choice.message.role == "assistant"
    assert choice.message.content == "Team A won [1]."
    assert choice.finish_reason == "stop"
    assert response.usage is not None
    assert response.usage.completion_tokens == 4
    assert response.usage.total_tokens == response.usage.prompt_tokens + response.usage.completion_tokens

    [body] = fake_llm.requests
    assert body["model"] == "scripted"
    assert body["messages"] == MESSAGES
    assert body["temperature"] == 0
    assert fake_llm.last_user_message() == "Who won?"
    assert fake_llm.system_message() == "Answer from the sources."


def test_raw_http_body_has_the_openai_fields(fake_llm: FakeLLM, client: openai.OpenAI) -> None:
    fake_llm.queue_text("ok")
    raw = client.chat.completions.with_raw_response.create(model="scripted", messages=MESSAGES)
    assert raw.http_response.headers["content-type"].startswith("application/json")
    body = json.loads(raw.http_response.text)
    assert set(body) >= {"id", "object", "created", "model", "choices", "usage"}
    assert set(body["choices"][0]) >= {"index", "message", "finish_reason"}
    assert body["choices"][0]["message"] == {
        "role": "assistant",
        "content": "ok",
        "refusal": None,
        "annotations": [],
    }


def test_replies_are_fifo_and_a_str_can_be_queued(fake_llm: FakeLLM, client: openai.OpenAI) -> None:
    fake_llm.queue("first", TextReply("second", finish_reason="length"))
    got = [client.chat.completions.create(model="scripted", messages=MESSAGES).choices[0] for _ in range(2)]
    assert [c.message.content for c in got] == ["first", "second"]
    assert [c.finish_reason for c in got] == ["stop", "length"]


def test_stream_sends_role_then_one_chunk_per_token_then_stop(fake_llm: FakeLLM, client: openai.OpenAI) -> None:
    tokens = ["Team", " A", " won", " [1]", "."]
    fake_llm.queue_tokens(tokens)
    chunks = _stream(client)

    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[0].choices[0].delta.content == ""
    content = [c.choices[0].delta.content for c in chunks[1:-1]]
    assert content == tokens
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].choices[0].delta.content is None
    assert all(c.usage is None for c in chunks)
    assert fake_llm.requests[-1]["stream"] is True


def test_stream_raw_sse_framing_ends_with_done(fake_llm: FakeLLM, client: openai.OpenAI) -> None:
    fake_llm.queue_text("Hi there")
    raw = client.chat.completions.with_raw_response.create(model="scripted", messages=MESSAGES, stream=True)
    assert raw.http_response.headers["content-type"].startswith("text/event-stream")
    text = raw.http_response.read().decode()
    events = [e for e in text.split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"
    payloads = [json.loads(e[len("data: ") :]) for e in events[:-1]]
    assert [p["choices"][0]["delta"] for p in payloads] == [
        {"role": "assistant", "content": "", "refusal": None},
        {"content": "Hi"},
        {"content": " there"},
        {},
    ]
    assert "usage" not in payloads[0]  # only with stream_options.include_usage, as OpenAI


def test_stream_include_usage_adds_a_final_usage_chunk(fake_llm: FakeLLM, client: openai.OpenAI) -> None:
    fake_llm.queue_text("one two three")
    chunks = _stream(client, stream_options={"include_usage": True})
    *body, last = chunks
    assert last.choices == []
    assert last.usage is not None and last.usage.completion_tokens == 3
    assert all(c.usage is None for c in body)
    assert body[-1].choices[0].finish_reason == "stop"


def test_empty_reply(fake_llm: FakeLLM, client: openai.OpenAI) -> None:
    fake_llm.queue("", "")
    response = client.chat.completions.create(model="scripted", messages=MESSAGES)
    assert response.choices[0].message.content == ""
    chunks = _stream(client)
    assert [c.choices[0].delta.content for c in chunks] == ["", None]
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_models_endpoint(fake_llm: FakeLLM, client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list().data] == ["scripted"]


def test_split_tokens_round_trips() -> None:
    for text in ["", "one", "Hello world.", "  lead and trail  ", "a\n\nb [1][2]"]:
        assert "".join(split_tokens(text)) == text
    assert split_tokens("Hello brave world") == ["Hello", " brave", " world"]


def test_queue_text_rejects_tokens_that_do_not_join_to_the_text(fake_llm: FakeLLM) -> None:
    with pytest.raises(ValueError, match="do not join"):
        fake_llm.queue_text("abc", tokens=["a", "c"])


# ------------------------------------------------------------------------------ errors, outages


@pytest.mark.parametrize(
    ("status", "exc_class"),
    [
        (400, openai.BadRequestError),
        (401, openai.AuthenticationError),
        (404, openai.NotFoundError),
        (429, openai.RateLimitError),
        (500, openai.InternalServerError),
        (503, openai.InternalServerError),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_error_status_raises_the_openai_exception(
    fake_llm: FakeLLM, client: openai.OpenAI, status: int, exc_class: type[Exception], stream: bool
) -> None:
    fake_llm.queue_error(status, f"scripted failure {status}")
    with pytest.raises(exc_class) as info:
        client.chat.completions.create(model="scripted", messages=MESSAGES, stream=stream)
    assert info.value.status_code == status  # type: ignore[attr-defined]
    body = info.value.body  # type: ignore[attr-defined]
    assert body["message"] == f"scripted failure {status}"
    assert set(body) == {"message", "type", "param", "code"}


def test_rate_limit_error_has_openai_type_and_headers(fake_llm: FakeLLM, client: openai.OpenAI) -> None:
    fake_llm.queue_error(429, headers={"retry-after": "7"})
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="scripted", messages=MESSAGES)
    assert info.value.code == "rate_limit_exceeded"
    assert info.value.response.headers["retry-after"] == "7"


def test_client_retries_consume_queued_replies(fake_llm: FakeLLM) -> None:
    fast = {"retry-after-ms": "10"}  # honoured by the openai client: no 0.5-8 s backoff
    fake_llm.queue_error(500, headers=fast).queue_error(503, headers=fast).queue_text("third time lucky")
    with openai_client(fake_llm, max_retries=2) as retrying:
        response = retrying.chat.completions.create(model="scripted", messages=MESSAGES)
    assert response.choices[0].message.content == "third time lucky"
    assert len(fake_llm.requests) == 3


def test_unscripted_request_gets_a_clear_500(fake_llm: FakeLLM, client: openai.OpenAI) -> None:
    with pytest.raises(openai.InternalServerError, match="no scripted reply queued"):
        client.chat.completions.create(model="scripted", messages=MESSAGES)


def test_default_reply_when_queue_is_empty(fake_llm: FakeLLM, client: openai.OpenAI) -> None:
    fake_llm.set_default_reply("I don't know [1]")
    fake_llm.queue_text("scripted first")
    got = [client.chat.completions.create(model="scripted", messages=MESSAGES) for _ in range(3)]
    assert [r.choices[0].message.content for r in got] == [
        "scripted first",
        "I don't know [1]",
        "I don't know [1]",
    ]


def test_timeout_when_reply_is_slower_than_the_client(fake_llm: FakeLLM) -> None:
    fake_llm.queue_delay(5.0)
    with openai_client(fake_llm, timeout=0.5) as impatient, pytest.raises(openai.APITimeoutError):
        impatient.chat.completions.create(model="scripted", messages=MESSAGES)
    assert len(fake_llm.requests) == 1  # recorded on arrival, before the delay


def test_timeout_when_a_stream_stalls(fake_llm: FakeLLM) -> None:
    fake_llm.queue_stall("one two three four", after_tokens=2, seconds=5.0)
    received: list[str] = []
    with openai_client(fake_llm, timeout=0.5) as impatient, pytest.raises(openai.APITimeoutError):
        for chunk in impatient.chat.completions.create(model="scripted", messages=MESSAGES, stream=True):
            if chunk.choices and chunk.choices[0].delta.content:
                received.append(chunk.choices[0].delta.content)
    assert received == ["one", " two"]


def test_connection_error_while_down_and_back_on_the_same_port(fake_llm: FakeLLM, client: openai.OpenAI) -> None:
    base_url = fake_llm.base_url
    with fake_llm.down():
        assert not fake_llm.is_up
        assert not port_is_open(fake_llm.port)
        with pytest.raises(openai.APIConnectionError) as info:
            client.chat.completions.create(model="scripted", messages=MESSAGES)
        assert not isinstance(info.value, openai.APITimeoutError)
        with pytest.raises(openai.APIConnectionError):
            _stream(client)
    assert fake_llm.base_url == base_url
    fake_llm.queue_text("back up")
    assert client.chat.completions.create(model="scripted", messages=MESSAGES).choices[0].message.content == "back up"


def test_stop_aborts_a_delayed_reply(fake_llm: FakeLLM) -> None:
    fake_llm.queue_delay(30.0)
    errors: list[BaseException] = []

    def call() -> None:
        with openai_client(fake_llm, timeout=20.0) as c:
            try:
                c.chat.completions.create(model="scripted", messages=MESSAGES)
            except openai.APIError as exc:
                errors.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    while not fake_llm.requests:  # the request has arrived and is being delayed
        time.sleep(0.01)
    fake_llm.stop()
    thread.join(10)  # well before the 20 s client timeout and the 30 s delay
    assert not thread.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], openai.APIConnectionError)


def test_broken_stream_disconnect_raises_after_partial_tokens(fake_llm: FakeLLM, client: openai.OpenAI) -> None:
    fake_llm.queue_broken_stream(["Partial", " answer"])
    received: list[str] = []
    with pytest.raises(openai.APIConnectionError):
        for chunk in client.chat.completions.create(model="scripted", messages=MESSAGES, stream=True):
            if chunk.choices and chunk.choices[0].delta.content:
                received.append(chunk.choices[0].delta.content)
    assert received == ["Partial", " answer"]


def test_broken_stream_invalid_json_raises(fake_llm: FakeLLM, client: openai.OpenAI) -> None:
    fake_llm.queue_broken_stream(["Partial"], mode="invalid_json")
    with pytest.raises(json.JSONDecodeError):
        _stream(client)


def test_broken_non_stream_body_raises(fake_llm: FakeLLM, client: openai.OpenAI) -> None:
    fake_llm.queue(BrokenStreamReply(mode="disconnect"), BrokenStreamReply(mode="invalid_json"))
    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model="scripted", messages=MESSAGES)
    with pytest.raises(json.JSONDecodeError):
        client.chat.completions.create(model="scripted", messages=MESSAGES)


def test_garbage_body(fake_llm: FakeLLM, client: openai.OpenAI) -> None:
    # What the real client does with a 200 that is not JSON: a non-JSON content type comes back as a
    # plain str (no exception!), a JSON content type fails to decode, garbage in a stream fails to decode.
    fake_llm.queue_garbage()
    assert "502 Bad Gateway" in str(client.chat.completions.create(model="scripted", messages=MESSAGES))
    fake_llm.queue_garbage("not json at all", content_type="application/json")
    with pytest.raises(json.JSONDecodeError):
        client.chat.completions.create(model="scripted", messages=MESSAGES)
    fake_llm.queue_garbage()
    with pytest.raises(json.JSONDecodeError):
        _stream(client)


def test_concurrent_requests_each_get_exactly_one_reply(fake_llm: FakeLLM) -> None:
    n = 24
    fake_llm.queue(*[f"reply {i}" for i in range(n)])
    results: list[str] = []
    lock = threading.Lock()

    def worker(count: int) -> None:
        with openai_client(fake_llm) as c:
            for _ in range(count):
                text = c.chat.completions.create(model="scripted", messages=MESSAGES).choices[0].message.content
                with lock:
                    results.append(text or "")

    threads = [threading.Thread(target=worker, args=(n // 6,)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == sorted(f"reply {i}" for i in range(n))
    assert len(fake_llm.requests) == n


def test_a_standalone_server_with_a_default_reply_restarts_on_its_port() -> None:
    """How benchmarks/api.py runs it: no pytest, a default reply for every request."""
    llm = FakeLLM(default_reply=TextReply("hello", split_tokens("hello"))).start()
    try:
        port = llm.port
        llm.stop()
        assert not port_is_open(port)
        llm.start()
        assert llm.port == port and llm.is_up
        with openai_client(llm) as c:
            for _ in range(2):
                assert c.chat.completions.create(model="m", messages=MESSAGES).choices[0].message.content == "hello"
    finally:
        llm.stop()
    assert not port_is_open(port)


def test_embeddings_are_unit_vectors_that_put_shared_words_closer(fake_llm: FakeLLM, client: openai.OpenAI) -> None:
    texts = ["Microsoft invested billions in OpenAI", "How much did Microsoft invest in OpenAI?", "Rain in Spain"]
    a, b, c = (d.embedding for d in client.embeddings.create(model="embed", input=texts).data)

    def dot(x: list[float], y: list[float]) -> float:
        return sum(p * q for p, q in zip(x, y, strict=True))

    assert len(a) == 256 and dot(a, a) == pytest.approx(1.0)
    assert dot(a, b) > dot(a, c)
    assert client.embeddings.create(model="embed", input=texts[0]).data[0].embedding == pytest.approx(a)


# --------------------------------------------------------------------------------------- ChatOpenAI


def test_chat_openai_invoke(fake_llm: FakeLLM) -> None:
    fake_llm.queue_text("Microsoft invested $13 billion [1].")
    llm = chat_model(fake_llm, timeout=5, temperature=0)
    message = llm.invoke([SystemMessage("Use the sources."), HumanMessage("How much?")])
    assert message.content == "Microsoft invested $13 billion [1]."
    assert message.response_metadata["finish_reason"] == "stop"
    body = fake_llm.requests[-1]
    assert body["model"] == "scripted"
    assert body["messages"] == [
        {"role": "system", "content": "Use the sources."},
        {"role": "user", "content": "How much?"},
    ]


def test_chat_openai_streams_token_by_token(fake_llm: FakeLLM) -> None:
    tokens = ["Micro", "soft", " invested", " $13", " billion", " [1]", "."]
    fake_llm.queue_tokens(tokens, token_delay=0.05)
    llm = chat_model(fake_llm, timeout=5)
    pieces = [chunk.content for chunk in llm.stream("How much?")]
    assert [p for p in pieces if p] == tokens
    assert fake_llm.requests[-1]["stream"] is True


def test_chat_openai_stream_usage(fake_llm: FakeLLM) -> None:
    fake_llm.queue_text("a b c")
    llm = chat_model(fake_llm, stream_usage=True)
    total = None
    for chunk in llm.stream("q"):
        total = chunk if total is None else total + chunk
    assert fake_llm.requests[-1]["stream_options"] == {"include_usage": True}
    assert total is not None and total.usage_metadata is not None
    assert total.usage_metadata["output_tokens"] == 3


@pytest.mark.parametrize("stream", [False, True])
def test_chat_openai_raises_openai_errors(fake_llm: FakeLLM, stream: bool) -> None:
    llm = chat_model(fake_llm, timeout=0.5)

    def call() -> None:
        if stream:
            list(llm.stream("q"))
        else:
            llm.invoke("q")

    fake_llm.queue_error(500)
    with pytest.raises(openai.InternalServerError):
        call()
    fake_llm.queue_error(429)
    with pytest.raises(openai.RateLimitError):
        call()
    fake_llm.queue_delay(5.0)
    with pytest.raises(openai.APITimeoutError):
        call()
    fake_llm.queue_broken_stream()
    with pytest.raises(openai.APIConnectionError):
        call()
    with fake_llm.down(), pytest.raises(openai.APIConnectionError):
        call()


def test_chat_openai_garbage_raises_a_non_openai_error(fake_llm: FakeLLM) -> None:
    # Worth knowing for the product: a 2xx with a non-JSON body does NOT raise an openai.APIError through
    # ChatOpenAI, but a ValueError (JSONDecodeError is one), so error mapping must catch it too.
    llm = chat_model(fake_llm)
    fake_llm.queue_garbage()
    with pytest.raises(ValueError, match="Unexpected response type"):
        llm.invoke("q")
    fake_llm.queue_garbage()
    with pytest.raises(ValueError):
        list(llm.stream("q"))
