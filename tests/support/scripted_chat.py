"""An in-process scripted chat model for rag unit tests: queued replies, streamed piece by piece, prompts kept.

`LLMAnswerer(settings, chat_model=ScriptedChat())` runs the real prompt | model | parser chain with no socket;
tests that need the real openai client and HTTP (failures, the API, the browser) use tests/support/fake_llm.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field


class ScriptedChat(BaseChatModel):
    replies: list[list[str]] = Field(default_factory=list)  # each reply as its stream pieces
    prompts: list[list[BaseMessage]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def queue_text(self, text: str) -> None:
        self.replies.append([text])

    def queue_tokens(self, tokens: list[str]) -> None:
        self.replies.append(list(tokens))

    def prompt_text(self, index: int = 0) -> str:
        """The human message of call `index` (negative from the end)."""
        return str(self.prompts[index][-1].content)

    def system_message(self, index: int = 0) -> str:
        return str(self.prompts[index][0].content)

    def _next(self, messages: list[BaseMessage]) -> list[str]:
        self.prompts.append(list(messages))
        if not self.replies:
            raise AssertionError("ScriptedChat: no reply queued")
        return self.replies.pop(0)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = "".join(self._next(messages))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for piece in self._next(messages):
            yield ChatGenerationChunk(message=AIMessageChunk(content=piece))
