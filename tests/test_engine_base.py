"""What `app.engine.base.Engine` does once for every backend (adapter bookkeeping, streamed
deltas, closing), the backend registry and `load_engine`'s choice. No model is loaded here."""

import subprocess
import sys
import typing

import pytest

import app.engine as engines
from app.config import Settings
from app.engine import AdapterNotLoaded, EngineClosed, GenerationRequest, GenerationResult
from app.engine.base import DeltaStream, Engine
from app.engine.registry import BACKENDS, DuplicateBackend, register_backend

CAMPFIRE = "🏕"  # four UTF-8 bytes


class RecordingEngine(Engine):
    """The least a backend implements; records what the base asks of it."""

    name = "recording"
    model = "nothing"

    def __init__(self, fail_loading: bool = False) -> None:
        super().__init__()
        self.added: list[tuple[str, str]] = []
        self.ran: list[GenerationRequest] = []
        self.released = 0
        self.fail_loading = fail_loading

    def run(self, requests):
        self.ran.extend(requests)
        return [GenerationResult("ok", 1, 1, 0.1, 0.1) for _ in requests]

    def add_adapter(self, name, path, checksum):
        if self.fail_loading:
            raise OSError(f"cannot read {path}")
        self.added.append((name, checksum))

    def count_tokens(self, text):
        return len(text.split())

    def render_chat(self, messages):
        return "\n".join(m["content"] for m in messages)

    def release(self):
        self.released += 1


def ask(adapter=None):
    return GenerationRequest([{"role": "user", "content": "hi"}], adapter=adapter)


def test_the_same_checksum_is_a_no_op_and_a_changed_one_reloads():
    engine = RecordingEngine()
    engine.load_adapter("triage", "/adapters/triage", "aaa")
    engine.load_adapter("triage", "/adapters/triage", "aaa")
    assert engine.added == [("triage", "aaa")]
    engine.load_adapter("triage", "/adapters/triage", "bbb")
    assert engine.added == [("triage", "aaa"), ("triage", "bbb")]
    assert engine.has_adapter("triage") and engine.adapters == {"triage": "bbb"}


def test_a_request_for_an_adapter_not_loaded_is_refused_by_name_before_running():
    engine = RecordingEngine()
    with pytest.raises(AdapterNotLoaded) as refused:
        engine.generate([ask(), ask("triage")])
    assert str(refused.value) == "adapter 'triage' is not loaded"
    assert isinstance(refused.value, KeyError) and engine.ran == []
    engine.load_adapter("triage", "/adapters/triage", "aaa")
    assert [r.text for r in engine.generate([ask(), ask("triage")])] == ["ok", "ok"]


def test_an_adapter_that_fails_to_load_is_not_loaded_afterwards():
    engine = RecordingEngine()
    engine.load_adapter("triage", "/adapters/triage", "aaa")
    engine.fail_loading = True
    with pytest.raises(OSError):
        engine.load_adapter("triage", "/adapters/triage", "bbb")
    assert not engine.has_adapter("triage")
    with pytest.raises(AdapterNotLoaded):
        engine.generate([ask("triage")])


def test_close_releases_once_and_later_requests_are_refused():
    engine = RecordingEngine()
    engine.close()
    engine.close()
    assert engine.released == 1 and engine.closed
    with pytest.raises(EngineClosed, match="recording engine is closed"):
        engine.generate([ask()])


def stream_of(pieces: list[bytes], on_token) -> DeltaStream:
    """Feed `pieces` (one token's bytes each) as a backend does: the completion so far,
    decoded, after each token; then the final text."""
    stream = DeltaStream(on_token)
    for count in range(1, len(pieces) + 1):
        stream.update(b"".join(pieces[:count]).decode("utf-8", errors="replace"))
    stream.finish(b"".join(pieces).decode("utf-8", errors="replace").strip())
    return stream


def test_a_character_split_across_tokens_is_sent_whole_once_complete():
    sent = []
    camp = CAMPFIRE.encode()
    stream_of([b" Pitch", b" the", b" tent ", camp[:2], camp[2:3], camp[3:], b" now"], sent.append)
    assert sent == ["Pitch", " the", " tent ", CAMPFIRE, " now"]
    assert not any("\ufffd" in piece for piece in sent)


def test_a_character_cut_short_by_the_token_limit_is_sent_at_the_end():
    sent = []
    stream_of([b"Tent", CAMPFIRE.encode()[:2]], sent.append)
    assert sent == ["Tent", "\ufffd"]  # what the result's text holds too


def test_a_stream_without_a_callback_does_nothing():
    stream_of([b"quiet"], None)


def test_a_backend_name_cannot_be_registered_twice():
    with pytest.raises(DuplicateBackend, match="'llamacpp' is already registered by app.engine"):
        register_backend("llamacpp")(lambda settings: RecordingEngine())
    assert BACKENDS["llamacpp"] is engines.load_llamacpp


def test_every_registered_backend_is_a_choice_of_the_setting():
    choices = typing.get_args(Settings.model_fields["engine"].annotation)
    assert set(choices) == {"auto", *BACKENDS}


def test_an_unknown_backend_is_refused_naming_the_choices():
    with pytest.raises(ValueError, match="unknown engine 'vllm'; choose one of auto, llamacpp"):
        engines.resolve_backend("vllm", "model.gguf")


@pytest.fixture
def fake_backends(monkeypatch):
    """llama.cpp failing to load, transformers loading: which was asked for what."""
    asked = []

    def failing(settings):
        asked.append("llamacpp")
        raise ValueError("unsupported architecture")

    def loading(settings):
        asked.append("transformers")
        return RecordingEngine()

    monkeypatch.setitem(BACKENDS, "llamacpp", failing)
    monkeypatch.setitem(BACKENDS, "transformers", loading)
    return asked


def test_auto_falls_back_to_transformers_when_llamacpp_cannot_load(fake_backends):
    settings = Settings(_env_file=None, engine="auto")  # the packaged GGUF: llama.cpp first
    assert isinstance(engines.load_engine(settings), RecordingEngine)
    assert fake_backends == ["llamacpp", "transformers"]


def test_an_explicit_llamacpp_that_cannot_load_is_an_error(fake_backends):
    with pytest.raises(ValueError, match="unsupported architecture"):
        engines.load_engine(Settings(_env_file=None, engine="llamacpp"))
    assert fake_backends == ["llamacpp"]


def test_importing_the_engines_imports_neither_torch_nor_llama_cpp():
    code = (
        "import sys, app.engine, app.engine.registry, app.engine.echo; "
        "print(sorted({'torch', 'llama_cpp', 'transformers'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_runtime_closes_the_engine_it_loaded_and_can_load_it_again(settings, monkeypatch):
    import app.runtime
    from app.errors import NotReady

    loaded = []
    monkeypatch.setattr(
        app.runtime, "load_engine", lambda s: loaded.append(RecordingEngine()) or loaded[-1]
    )
    runtime = app.runtime.Runtime(settings)
    runtime.embedder = object()  # not needed here; load() keeps one it has
    runtime.load(demo=False)
    runtime.close()
    assert loaded[0].released == 1 and runtime.engine is None and not runtime.ready
    with pytest.raises(NotReady):
        runtime.models()
    runtime.load(demo=False)
    assert runtime.models()[1] is loaded[1] and not loaded[1].closed
    runtime.close()


def test_a_runtime_leaves_an_engine_it_was_given_open(settings):
    from app.runtime import Runtime

    given = RecordingEngine()
    runtime = Runtime(settings, engine=given)
    runtime.embedder = object()
    runtime.load(demo=False)
    runtime.close()
    assert not given.closed and runtime.models()[1] is given
