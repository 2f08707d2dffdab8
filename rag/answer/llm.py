"""The LLM answerer: a LangChain chain (prompt | ChatOpenAI | parser) against any OpenAI-compatible
endpoint, streamed token by token. Client failures become the LLM members of the error family."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from typing import Any

from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import Runnable

from rag.answer.base import AnswerContext, Draft
from rag.answer.prompts import (
    ANSWER_SYSTEM,
    ANSWER_USER,
    CONDENSE_SYSTEM,
    CONDENSE_USER,
    EXPECTED_ANSWER,
    REFUSAL_SENTENCE,
    SHORT_ANSWER_PREFIX,
    SOURCE_BLOCK,
)
from rag.citations import CANONICAL, normalise_markers
from rag.errors import ConfigError, LLMError, LLMTimeout, LLMUnavailable
from rag.models import ChatTurn, Hit, ShortAnswer
from rag.question import read_question
from rag.settings import Settings

_REFUSAL = re.compile(
    r"(sources? (do|does) not (answer|contain|mention|say|provide)|"
    r"(cannot|can't|can not|unable to) (answer|determine|find)|"
    r"no (relevant )?information (about|on|in)|not (mentioned|stated|covered) in the sources|"
    r"insufficient information)",
    re.IGNORECASE,
)


def format_sources(hits: Sequence[Hit]) -> str:
    return "\n\n".join(
        SOURCE_BLOCK.format(
            n=i,
            title=hit.title,
            outlet=hit.source or "unknown",
            date=hit.published_at.strftime("%Y-%m-%d") if hit.published_at else "unknown",
            text=hit.text.replace("</source>", "</ source>"),  # a source cannot close its own tag
        )
        for i, hit in enumerate(hits, start=1)
    )


def is_refusal(text: str) -> bool:
    """The model declined: the refusal sentence, or a short reply that only says it cannot answer."""
    stripped = text.strip()
    if not stripped:
        return True
    if REFUSAL_SENTENCE.lower().rstrip(".") in stripped.lower():
        return True
    return len(stripped) < 200 and bool(_REFUSAL.search(stripped)) and "[" not in stripped


def translate_error(exc: BaseException) -> LLMError | ConfigError:
    """The one place that knows how openai / httpx failures look; everything else sees our errors."""
    import httpx
    import openai

    if isinstance(exc, openai.APITimeoutError | httpx.TimeoutException):
        return LLMTimeout(f"the LLM endpoint did not answer in time: {exc}")
    if isinstance(exc, openai.APIConnectionError | httpx.TransportError):
        return LLMUnavailable(f"cannot reach the LLM endpoint: {exc}")
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return LLMUnavailable(f"the LLM endpoint refused our credentials: {exc.message}")
    if isinstance(exc, openai.NotFoundError):
        return LLMUnavailable(f"the LLM endpoint does not know the model: {exc.message}")
    if isinstance(exc, openai.APIStatusError):
        return LLMUnavailable(f"the LLM endpoint failed with HTTP {exc.status_code}: {exc.message}")
    if isinstance(exc, openai.APIError):
        return LLMError(f"the LLM endpoint sent an unusable reply: {exc}")
    return LLMError(f"the LLM endpoint sent an unreadable reply ({type(exc).__name__}: {exc})")


_CLIENT_ERRORS: tuple[type[BaseException], ...] = (ValueError, TypeError, KeyError, json.JSONDecodeError)


def _client_errors() -> tuple[type[BaseException], ...]:
    import httpx
    import openai

    return (openai.OpenAIError, httpx.HTTPError, *_CLIENT_ERRORS)


def chat_openai(settings: Settings, temperature: float, max_tokens: int | None = None, streaming: bool = False) -> Any:
    """ChatOpenAI against the configured OpenAI-compatible endpoint: the answerer's model, and the eval judge's."""
    from langchain_openai import ChatOpenAI

    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "not-needed"
    return ChatOpenAI(
        model=settings.llm_model,
        base_url=settings.openai_base_url,
        api_key=key,
        timeout=settings.llm_timeout,
        max_retries=settings.llm_max_retries,
        temperature=temperature,
        max_tokens=max_tokens,
        streaming=streaming,
    )


class LLMAnswerer:
    mode = "openai"

    def __init__(self, settings: Settings, chat_model: Any = None) -> None:
        if chat_model is None:
            if not settings.llm_model:
                raise ConfigError("answerer 'openai' needs NEWSRAG_LLM_MODEL")
            chat_model = chat_openai(settings, settings.llm_temperature, settings.llm_max_tokens, streaming=True)
        self.model = chat_model
        answer_prompt = ChatPromptTemplate.from_messages([("system", ANSWER_SYSTEM), ("human", ANSWER_USER)])
        condense_prompt = ChatPromptTemplate.from_messages([("system", CONDENSE_SYSTEM), ("human", CONDENSE_USER)])
        # Message chunks, not text: the last one says whether the model stopped at its token limit.
        self.answer_chain: Runnable = answer_prompt | chat_model
        self.condense_chain: Runnable = condense_prompt | chat_model | StrOutputParser()

    def condense(self, question: str, history: Sequence[ChatTurn]) -> str:
        if not history:
            return question
        transcript = "\n".join(f"{t.role}: {t.content}" for t in history[-8:])
        try:
            rewritten = self.condense_chain.invoke({"history": transcript, "question": question})
        except _client_errors() as exc:
            raise translate_error(exc) from exc
        rewritten = rewritten.strip().strip('"').strip()
        # A tiny or confused model may answer instead of rewriting: keep the user's words then.
        return rewritten if 0 < len(rewritten) <= 4 * len(question) + 200 else question

    def run(self, context: AnswerContext) -> Iterator[str | Draft]:
        plan = read_question(context.question)
        if future := plan.future_event(context.as_of):
            text = f"Nothing can be reported yet about {future.phrase or future.year}."
            yield Draft(text, refused=True, refusal_reason="not_yet_reportable")
            return
        inputs = {
            "sources": format_sources(context.hits),
            "question": context.question,
            "as_of": context.as_of.strftime("%Y-%m-%d"),
            "expected": EXPECTED_ANSWER[plan.answer_type],
            "event_dates": ", ".join(d.phrase or str(d.year) for d in plan.event_dates) or "none",
        }
        pieces: list[str] = []
        held: list[str] = []  # the first line, held back until it is known not to be the "Answer:" line
        first_line_done = False
        truncated = False
        try:
            for message in self.answer_chain.stream(inputs):
                truncated = truncated or message.response_metadata.get("finish_reason") == "length"
                piece = str(message.text)
                if not piece:
                    continue
                pieces.append(piece)
                if first_line_done:
                    yield piece
                    continue
                held.append(piece)
                so_far = "".join(held).lstrip()
                if "\n" in so_far or not SHORT_ANSWER_PREFIX.lower().startswith(
                    so_far.lower()[: len(SHORT_ANSWER_PREFIX)]
                ):
                    first_line_done = True
                    _, rest = split_short_answer(so_far)
                    if rest:
                        yield rest
        except _client_errors() as exc:
            raise translate_error(exc) from exc
        if not first_line_done and held:
            _, rest = split_short_answer("".join(held).lstrip())
            if rest:
                yield rest
        short_text, text = split_short_answer("".join(pieces).strip())
        text = text.strip()
        if is_refusal(text):
            yield Draft(text or REFUSAL_SENTENCE, refused=True, refusal_reason="no_relevant_sources")
        else:
            yield Draft(text, short_answer=_short_answer(short_text, text, context.hits), truncated=truncated)

    def complete(self, prompt: str) -> str:
        """One prompt, one reply, no sources: for a chat UI's housekeeping requests (a title, tags)."""
        try:
            return str(StrOutputParser().invoke(self.model.invoke(prompt)))
        except _client_errors() as exc:
            raise translate_error(exc) from exc


def split_short_answer(text: str) -> tuple[str | None, str]:
    """("$13 billion", the rest) when the reply opens with an "Answer: ..." line, else (None, text)."""
    stripped = text.lstrip()
    if not stripped.lower().startswith(SHORT_ANSWER_PREFIX.lower()):
        return None, text
    line, _, rest = stripped.partition("\n")
    if not _:  # the line has not ended yet
        return None, text
    value = CANONICAL.sub("", normalise_markers(line[len(SHORT_ANSWER_PREFIX) :], 999).text).strip().rstrip(".")
    return value or None, rest.lstrip("\n")


def _short_answer(value: str | None, text: str, hits: Sequence[Hit]) -> ShortAnswer | None:
    """The model's short answer, kept only when a source it cites holds it verbatim (the chain checks the quote)."""
    if not value:
        return None
    cited = [int(n) for n in CANONICAL.findall(normalise_markers(text, len(hits)).text)]
    for n in dict.fromkeys(cited):
        if value in hits[n - 1].text:
            return ShortAnswer(text=value, citation=n)
    return None
