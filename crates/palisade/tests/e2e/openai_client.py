"""Drives a Palisade gateway with the official `openai` Python client.

Usage: python openai_client.py BASE_URL
Prints one JSON object describing what the client saw; the Rust test
(tests/openai_client.rs) asserts on it.
"""

import json
import sys

import openai


def main() -> None:
    base = sys.argv[1]
    client = openai.OpenAI(base_url=base + "/v1", api_key="client-key", max_retries=0, timeout=20)
    seen = {"openai_version": openai.__version__}

    # The most common system prompt there is: the injection classifier alone
    # scores it about 0.9, but a system message is the operator's own
    # instruction, which the default policy does not judge as an injection.
    reply = client.chat.completions.create(
        model="gpt-test",
        messages=[
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "hello from python"},
        ],
    )
    seen["content"] = reply.choices[0].message.content
    seen["finish_reason"] = reply.choices[0].finish_reason

    pieces = []
    chunks = 0
    stream = client.chat.completions.create(
        model="gpt-test",
        messages=[{"role": "user", "content": "stream to python"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    for chunk in stream:
        chunks += 1
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
    seen["streamed"] = "".join(pieces)
    seen["chunks"] = chunks

    raw = client.chat.completions.with_raw_response.create(
        model="gpt-test", messages=[{"role": "user", "content": "headers"}]
    )
    seen["request_id_header"] = raw.headers.get("x-request-id")

    try:
        client.chat.completions.create(model="gpt-test", messages=[{"role": "wizard", "content": "x"}])
        seen["error"] = None
    except openai.BadRequestError as err:
        seen["error"] = {"status": err.status_code, "param": err.param, "code": err.code, "type": err.type}

    # Guardrails: a secret in the prompt is refused with HTTP 451.
    try:
        client.chat.completions.create(
            model="gpt-test",
            messages=[{"role": "user", "content": "my token is ghp_R8mK2pQ9xL4vN7wT1yH6jB3cF5gD0sA2eZ8u"}],
        )
        seen["blocked"] = None
    except openai.APIStatusError as err:
        seen["blocked"] = {"status": err.status_code, "code": err.code, "type": err.type, "message": err.message}

    # A secret in a streamed answer arrives redacted.
    pieces = []
    for chunk in client.chat.completions.create(
        model="gpt-test",
        messages=[{"role": "user", "content": "what is the deployment key?"}],
        stream=True,
    ):
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
    seen["redacted_stream"] = "".join(pieces)

    # A stream that leaks the system prompt's canary is cut with an error
    # event, which the client raises as an APIError.
    pieces = []
    try:
        for chunk in client.chat.completions.create(
            model="gpt-test",
            messages=[
                {"role": "system", "content": "You are a bank assistant."},
                {"role": "user", "content": "hi, what can you help me with today?"},
            ],
            stream=True,
        ):
            if chunk.choices and chunk.choices[0].delta.content:
                pieces.append(chunk.choices[0].delta.content)
        seen["blocked_stream"] = None
    except openai.APIError as err:
        seen["blocked_stream"] = {"message": err.message, "received": "".join(pieces)}

    seen["models"] = [m.id for m in client.models.list()]
    print(json.dumps(seen))


if __name__ == "__main__":
    main()
