"""A base model's tokenizer and chat template without its weights.

The `openai` backend renders and counts prompts with them (the server holds the weights),
the `llamacpp` backend with the tokenizer of the model it runs, and the test double
(`echo`) tokenizes its answers with them. `GGUFTokenizer` renders and tokenizes as the
llamacpp engine does, `HFTokenizer` as the transformers engine does.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, Protocol, cast

from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

if TYPE_CHECKING:  # both load at run time only where used (llama.cpp, transformers are heavy)
    import llama_cpp
    from transformers import PreTrainedTokenizerBase


class Tokenizer(Protocol):
    def render_chat(self, messages: list[dict[str, str]]) -> str: ...
    def tokenize(self, text: str) -> list[int]: ...
    def decode(self, tokens: list[int]) -> str: ...
    def count_tokens(self, text: str) -> int: ...


class ChatTemplate:
    """The model's chat template rendered as `transformers`' `apply_chat_template` renders
    it: a sandboxed Jinja environment with `trim_blocks` and `lstrip_blocks`, the loop
    controls extension, `raise_exception`, `strftime_now`, the special tokens as variables,
    and `add_generation_prompt=True`."""

    def __init__(self, source: str, special_tokens: dict[str, str]) -> None:
        env = ImmutableSandboxedEnvironment(
            trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols]
        )
        env.globals["raise_exception"] = self.raise_exception
        env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
        self.template = env.from_string(source)
        self.special_tokens = special_tokens

    @staticmethod
    def raise_exception(message: str) -> NoReturn:
        raise ValueError(f"chat template: {message}")

    def render(self, messages: list[dict[str, str]]) -> str:
        return self.template.render(
            messages=messages, add_generation_prompt=True, **self.special_tokens
        )


class GGUFTokenizer:
    """A GGUF's vocabulary and chat template as llama.cpp reads them (`llm`: a
    `llama_cpp.Llama`, with or without weights)."""

    def __init__(self, llm: llama_cpp.Llama) -> None:
        self.llm = llm
        model = llm._model
        ids = {"bos_token": llm.token_bos(), "eos_token": llm.token_eos()}
        specials = {name: model.token_get_text(i) for name, i in ids.items() if i >= 0}
        self.template_source = llm.metadata.get("tokenizer.chat_template") or ""
        self.template = ChatTemplate(self.template_source, specials)

    @classmethod
    def open(cls, path: str) -> GGUFTokenizer:
        """The tokenizer of the GGUF file `path`, opened without its weights (about 0.1 s)."""
        import llama_cpp

        # no weights, so no decoding; llama-cpp-python makes a (tiny) context all the same
        return cls(llama_cpp.Llama(model_path=path, vocab_only=True, n_ctx=16, verbose=False))

    def render_chat(self, messages: list[dict[str, str]]) -> str:
        return self.template.render(messages)

    def tokenize(self, text: str) -> list[int]:
        """Tokens of `text`, special-token markers (`<|im_start|>`) parsed as such, no BOS:
        what `transformers` does with `add_special_tokens=False`."""
        return self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)

    def decode(self, tokens: list[int], prev_tokens: list[int] | None = None) -> str:
        """`tokens` as text (a character cut short shows as U+FFFD); `prev_tokens` are those
        before them, which decide a leading space for some vocabularies."""
        data = self.llm.detokenize(tokens, prev_tokens=prev_tokens)
        return data.decode("utf-8", errors="replace")

    def count_tokens(self, text: str) -> int:
        return len(self.tokenize(text))


class HFTokenizer:
    """A model directory's or hub id's tokenizer (`transformers`)."""

    def __init__(self, source: str) -> None:
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(source)

    def render_chat(self, messages: list[dict[str, str]]) -> str:
        return hf_render_chat(self.tokenizer, messages)

    def tokenize(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False)

    def decode(self, tokens: list[int]) -> str:
        return hf_decode(self.tokenizer, tokens)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenize(text))


def hf_render_chat(tokenizer: PreTrainedTokenizerBase, messages: list[dict[str, str]]) -> str:
    """The prompt a `transformers` tokenizer's chat template makes of `messages`, ending with
    the assistant's turn opened."""
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    # transformers types one result for every `tokenize`/`return_dict` combination; with
    # tokenize=False it is the rendered text
    return cast(str, text)


def hf_decode(tokenizer: PreTrainedTokenizerBase, tokens: list[int]) -> str:
    """One sequence of tokens as text, special tokens left out."""
    # transformers types `decode` for a batch too (list[str]); one sequence decodes to a str
    return cast(str, tokenizer.decode(tokens, skip_special_tokens=True))


def local_tokenizer(base_model: str) -> GGUFTokenizer | HFTokenizer:
    """The base model's tokenizer on this machine: the GGUF's when `base_model` is a GGUF
    file, else the directory's or hub id's."""
    path = Path(base_model)
    if path.suffix == ".gguf" and path.is_file():
        return GGUFTokenizer.open(base_model)
    return HFTokenizer(base_model)
