"""The machinery DL, DH and TMH share: parameters, few-shot choice, the client, the thread pool, the records.

See `strategies.py` for what `predict` returns per document.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from functools import partial
from typing import Any

import numpy as np

from classifiers.engine.base import Cancelled, HierarchicalClassifier, ProgressFn
from classifiers.engine.hierarchy import Hierarchy, Path, as_multi
from classifiers.engine.llm import prompts as P
from classifiers.engine.llm.client import LLMCallError, LLMClient, PromptTooLong, SharedPromptTooLong, StopsTheRun
from classifiers.engine.llm.examples import choose_examples
from classifiers.engine.llm.outcome import DocOutcome

DEFAULT_BASE_URL = "http://127.0.0.1:8081/v1"
DEFAULT_MODEL = "smollm2-135m-instruct"


class LLMStrategy(HierarchicalClassifier):
    """Shared machinery: parameters, example choice, the client, the thread pool and the records."""

    strategy_name = "llm"
    training_free = True
    calls_llm = True
    fits_path_threshold = False  # the answer decides the path, its scores are one-hot
    decode = "argmax"
    template_key = ""
    every_level_examples = False
    #: Scoring a corpus again means calling the model again (the weak pipeline scores only once).
    rescoring_is_costly = True

    def __init__(
        self,
        *,
        base_url: str = DEFAULT_BASE_URL,
        model: str = DEFAULT_MODEL,
        k: int = 0,
        seed: int = 550,
        templates: dict[str, str] | None = None,
        temperature: float = 0.0,
        max_tokens: int | None = None,
        concurrency: int = 2,
        timeout: float = 60.0,
        max_retries: int = 3,
        repair: bool = False,
        use_descriptions: bool = False,
        label_descriptions: dict[int, str] | None = None,
        match_threshold: float = 0.85,
        max_doc_chars: int = 2000,
        example_chars: int = 400,
        constrained: bool = True,
        price_in_per_1k: float = 0.0,
        price_out_per_1k: float = 0.0,
    ):
        self.base_url = base_url
        self.model = model
        self.k = k
        self.seed = seed
        self.templates = templates
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_retries = max_retries
        self.repair = repair  # DH only; DL and TMH paths are consistent by construction
        self.use_descriptions = use_descriptions
        self.label_descriptions = label_descriptions
        self.match_threshold = match_threshold
        self.max_doc_chars = max_doc_chars
        self.example_chars = example_chars
        self.constrained = constrained
        self.price_in_per_1k = price_in_per_1k
        self.price_out_per_1k = price_out_per_1k

    # ----- runtime (never saved) -----
    def set_runtime(
        self,
        *,
        api_key: str | None = None,
        allowed_hosts=None,
        cache_dir=None,
        sleep=None,
        client=None,
        should_stop=None,
        keep_partial: bool | None = None,
    ):
        """Secrets and machine-local settings; none of them is a parameter, so none is saved or cloned.

        `should_stop()` is a cancel check, asked a few times a second while documents are classified.
        `keep_partial`: after a refused key, return the answers received (`stopped_` says why) instead of raising."""
        rt = self.__dict__.setdefault("_runtime", {})
        if should_stop is not None:
            rt["should_stop"] = should_stop
        if keep_partial is not None:
            rt["keep_partial"] = bool(keep_partial)
        for key, value in {"api_key": api_key, "allowed_hosts": allowed_hosts, "cache_dir": cache_dir}.items():
            if value is not None:
                rt[key] = value
        if sleep is not None:
            rt["sleep"] = sleep
        if client is not None:
            rt["client"] = client
            rt["client_key"] = self._client_key(rt)
        return self

    def _client_key(self, rt: dict) -> tuple:
        return (
            self.base_url,
            self.model,
            self.timeout,
            self.concurrency,
            self.max_retries,
            self.price_in_per_1k,
            self.price_out_per_1k,
            rt.get("api_key"),
            tuple(rt.get("allowed_hosts") or ()),
            str(rt.get("cache_dir") or ""),
            id(rt.get("sleep")),
        )

    def client(self) -> LLMClient:
        """The client for the current parameters (built once, reused so its cache serves repeat calls)."""
        rt = self.__dict__.setdefault("_runtime", {})
        key = self._client_key(rt)
        if rt.get("client") is None or rt.get("client_key") != key:
            rt["client"] = LLMClient(
                base_url=self.base_url,
                model=self.model,
                api_key=rt.get("api_key"),
                timeout=self.timeout,
                concurrency=self.concurrency,
                max_retries=self.max_retries,
                price_in_per_1k=self.price_in_per_1k,
                price_out_per_1k=self.price_out_per_1k,
                allowed_hosts=rt.get("allowed_hosts"),
                cache_dir=rt.get("cache_dir"),
                **({"sleep": rt["sleep"]} if "sleep" in rt else {}),
            )
            rt["client_key"] = key
        return rt["client"]

    def __getstate__(self):
        state = dict(super().__getstate__())
        state.pop("_runtime", None)  # never pickle or deep-copy the key or the client
        return state

    # ----- fit -----
    def fit(
        self, texts: Sequence[str], paths: Sequence, hierarchy: Hierarchy, *, dev=None, progress: ProgressFn = None
    ):
        self.hierarchy_ = hierarchy
        multi = as_multi(paths)
        groups = choose_examples(multi, k=int(self.k), seed=int(self.seed), every_level=self.every_level_examples)
        self.example_groups_ = groups
        self.examples_ = sorted({i for idx in groups.values() for i in idx})
        self.example_texts_ = {i: str(texts[i]) for i in self.examples_}
        self.example_paths_ = {i: multi[i][0] for i in self.examples_}
        if progress is not None:
            progress(1, 1)
        return self

    # ----- predict -----
    def predict(
        self, texts: Sequence[str], *, progress: ProgressFn = None, api_key: str | None = None
    ) -> list[list[Path]]:
        outcomes = self._run(texts, progress=progress, api_key=api_key)
        return [[o.path] if o.path else [] for o in outcomes]

    def predict_scores(
        self, texts: Sequence[str], *, progress: ProgressFn = None, api_key: str | None = None
    ) -> list[np.ndarray]:
        """One-hot per level from the answered path (uniform rows where the answer stops or is invalid)."""
        last = self.__dict__.get("_runtime", {}).get("last")
        if api_key is None and last is not None and last[0] == self._memo_key(texts):
            outcomes = last[1]  # the answers of the predict() just made: no second pass, records kept
            if progress is not None:
                progress(len(texts), len(texts))
        else:
            outcomes = self._run(texts, progress=progress, api_key=api_key)
        h = self.hierarchy_
        out = []
        for d, level in enumerate(h.levels):
            scores = np.full((len(outcomes), len(level)), 1.0 / len(level))
            for i, o in enumerate(outcomes):
                if d < len(o.path) and h.depth[o.path[d]] == d + 1:
                    scores[i] = 0.0
                    scores[i, h.level_pos[o.path[d]]] = 1.0
            out.append(scores)
        return out

    def _run(self, texts: Sequence[str], *, progress: ProgressFn, api_key: str | None) -> list[DocOutcome]:
        """Classify every text on the thread pool, round by round (`_rounds`). Stops early, keeping every answer
        already received, when the runtime `should_stop()` says so (`stopped_ = "cancelled"`) or a failure would
        repeat on every call (a refused key, labels too long for the context: `stopped_` = the reason); the
        documents not finished come back with `answered = False`."""
        if api_key is not None:
            self.set_runtime(api_key=api_key)
        rt = self.__dict__.setdefault("_runtime", {})
        client = self.client()
        before = client.usage_dict()
        started = time.monotonic()
        outcomes: list[DocOutcome | None] = [None] * len(texts)
        finished = [False] * len(texts)
        total = len(texts)
        workers = max(1, min(int(self.concurrency), total or 1))
        should_stop = rt.get("should_stop")
        stop = threading.Event()
        rt["stop_event"] = stop  # checked before every call (see `_ask`)
        self.stopped_ = ""
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="llm")
        pending: dict = {}
        done_count = 0
        fatal: StopsTheRun | None = None
        try:
            for tasks in self._rounds([str(t) for t in texts], client):
                # Submitted in the round's order: documents asked the same question go one after another, so a
                # server that caches the prompt prefix (llama.cpp) or bills it cheaper (OpenAI) reuses it.
                pending = {pool.submit(task): i for i, task in tasks}
                while pending:
                    # With a cancel check, wake up a few times a second to look at it even while calls are slow.
                    done, _ = wait(pending, timeout=0.25 if should_stop else None, return_when=FIRST_COMPLETED)
                    for fut in done:
                        index = pending.pop(fut)
                        try:
                            outcomes[index], finished[index] = fut.result()
                        except StopsTheRun as exc:
                            self.stopped_ = self.stopped_ or f"{exc.kind}: {exc}"
                            fatal = fatal or exc
                            stop.set()
                            continue
                        if finished[index] and outcomes[index].answered:
                            done_count += 1
                    if progress is not None and done:
                        progress(done_count, total)
                    if not stop.is_set() and should_stop is not None and should_stop():
                        self.stopped_ = "cancelled"
                        stop.set()
                    if stop.is_set():
                        # Calls in flight are abandoned (their threads finish on their own); nothing new starts.
                        for fut in pending:
                            fut.cancel()
                        break
                if stop.is_set():
                    break
        except BaseException:
            stop.set()  # the progress callback raised (or an unexpected error): start no more calls
            raise
        finally:
            pool.shutdown(wait=not stop.is_set(), cancel_futures=True)
            if stop.is_set():
                for fut, index in pending.items():
                    if fut.done() and not fut.cancelled() and fut.exception() is None:
                        outcomes[index], finished[index] = fut.result()  # answered while we were stopping: keep it
        for i, outcome in enumerate(outcomes):
            if outcome is None or not finished[i]:
                outcomes[i] = skipped = outcome or DocOutcome()
                skipped.skip()  # never asked, or stopped between two of its calls (its tokens still count)
        self._record(outcomes, client, before, time.monotonic() - started)
        self.__dict__.setdefault("_runtime", {})["last"] = (self._memo_key(texts), outcomes)
        if fatal is not None and not rt.get("keep_partial"):
            raise fatal  # the records above (answered_, raw_outputs_, ...) still say what was received
        return outcomes  # type: ignore[return-value]

    def _rounds(self, texts: list[str], client: LLMClient) -> Iterator[list[tuple[int, Callable]]]:
        """The calls, in rounds: each round a list of (document index, task); a task returns (the document's
        outcome, whether it is finished), and a round starts when the one before has been answered. DL and DH:
        one round, one call per document."""
        yield [(i, partial(self._classify_safe, text, client)) for i, text in enumerate(texts)]

    def _memo_key(self, texts: Sequence[str]) -> tuple[str, str]:
        return (_digest(texts), repr(sorted(self.get_params(deep=False).items(), key=lambda kv: kv[0])))

    def _classify_safe(self, text: str, client: LLMClient) -> tuple[DocOutcome, bool]:
        outcome = DocOutcome()
        return outcome, self._safely(lambda: self._classify(text, client, outcome), outcome)

    def _safely(self, ask: Callable[[], bool | None], outcome: DocOutcome) -> bool:
        """Run one document's `ask`; a failed call ends the document as failed, a stop as not asked. Returns
        whether the document is finished (`ask` returns False when it needs another round)."""
        try:
            return ask() is not False
        except StopsTheRun:
            stop = self.__dict__.get("_runtime", {}).get("stop_event")
            if stop is not None:
                stop.set()  # from this worker at once: no other document is asked (a refused key, a prompt too long)
            raise
        except LLMCallError as exc:
            outcome.fail(f"{exc.kind}: {exc}")
        except Cancelled:
            outcome.skip()
        return True

    def _classify(self, text: str, client: LLMClient, outcome: DocOutcome) -> None:
        raise NotImplementedError

    def _record(self, outcomes, client: LLMClient, before: dict, seconds: float) -> None:
        self.raw_outputs_ = [o.raw for o in outcomes]
        self.raw_paths_ = [o.raw_path for o in outcomes]
        self.valid_ = [o.valid for o in outcomes]
        self.consistent_ = [o.consistent for o in outcomes]
        self.repaired_ = [o.repaired for o in outcomes]
        self.invalid_ = [o.invalid for o in outcomes]
        self.failed_ = [o.failed for o in outcomes]
        self.answered_ = [o.answered for o in outcomes]
        self.match_how_ = [o.how for o in outcomes]
        self.tokens_ = [
            {"prompt": o.prompt_tokens, "completion": o.completion_tokens, "calls": o.calls, "cached": o.cached}
            for o in outcomes
        ]
        after = client.usage_dict()
        delta = {key: after[key] - before[key] for key in after}
        n = max(1, len(outcomes))
        self.stats_ = {
            **delta,
            "documents": sum(1 for o in outcomes if o.answered),
            "invalid": sum(1 for o in outcomes if o.invalid),
            "failed": sum(1 for o in outcomes if o.failed),
            "inconsistent": sum(1 for o in outcomes if not o.consistent),
            # "timeout: ..." -> {"timeout": n}: why calls failed after their retries, by kind.
            "failed_by_kind": dict(Counter(str(o.failed).split(":", 1)[0] for o in outcomes if o.failed)),
            "seconds": round(seconds, 3),
            "calls_per_doc": sum(o.calls for o in outcomes) / n,
            "tokens_per_doc": sum(o.prompt_tokens + o.completion_tokens for o in outcomes) / n,
        }

    # ----- prompt pieces -----
    def _templates(self) -> dict[str, str]:
        return P.merged_templates(self.templates)

    def _descriptions(self) -> dict[int, str]:
        if not self.use_descriptions or not self.label_descriptions:
            return {}
        return {int(k): str(v) for k, v in self.label_descriptions.items() if v}

    def _ask(
        self, client: LLMClient, user: str, schema: dict, outcome: DocOutcome, *, document: str, shared: bool = True
    ) -> str:
        """One call. `shared`: every document's prompt for this call has the same text around its document (DL, DH,
        TMH's first level), so when that text alone overflows the model's context, the run stops here."""
        stop = self.__dict__.get("_runtime", {}).get("stop_event")
        if stop is not None and stop.is_set():
            raise Cancelled("The run stopped before this call.")
        try:
            result = client.complete(
                P.messages_for(self._templates()["system"], user),
                schema=schema if self.constrained else None,
                max_tokens=int(self.max_tokens or self._default_max_tokens()),
                temperature=float(self.temperature),
                seed=int(self.seed),
            )
        except PromptTooLong as exc:
            if shared and exc.context_tokens and exc.prompt_tokens:
                # A document costs at most one token per UTF-8 byte (byte-level and byte-fallback tokenizers).
                own = len(P.truncate(document, int(self.max_doc_chars)).encode("utf-8")) + 8
                fixed = exc.prompt_tokens - own
                if fixed >= exc.context_tokens:
                    message = self._shared_too_long(fixed, exc.context_tokens)
                    raise SharedPromptTooLong(message, status=exc.status) from None
            raise
        outcome.add_call(result)
        return result.text

    def _shared_too_long(self, fixed: int, window: int) -> str:
        what = "the label list and the examples" if int(self.k) else "the label list"
        fewer = f"fewer examples (k = {int(self.k)}), " if int(self.k) else ""
        return (
            f"Every {self.strategy_name} prompt is at least {fixed:,} tokens before its document ({what}), more than "
            f"the model's context window of {window:,} tokens. Use llm-tmh (it lists the children of one label a "
            f"call), {fewer}or a model with a larger context."
        )

    def _render(self, *, labels: str, examples: str, descriptions: str, document: str, **extra: str) -> str:
        values = {
            "labels": labels,
            "examples": examples,
            "descriptions": descriptions,
            "document": P.truncate(document, int(self.max_doc_chars)),
            **extra,
        }
        return P.render_template(self._templates()[self.template_key], values)

    def _default_max_tokens(self) -> int:
        """Room for one JSON answer: a label, or (DH) one label per level."""
        return 64

    def first_messages(self, text: str) -> list[dict[str, str]]:
        """The chat messages of the first call this strategy makes for `text`, without calling anything: DL and DH
        make only that call, so this is their whole prompt (a fitted strategy; for sizing prompts offline)."""
        probe = _PromptProbe()
        try:
            self._classify(str(text), probe, DocOutcome())  # type: ignore[arg-type]
        except _PromptCaptured:
            pass
        return probe.messages

    def _example_docs(self, classes: Sequence[int]) -> list[int]:
        """The few-shot documents of these classes, in a seeded shuffled order (not grouped by class,
        so the last examples shown do not all share one label)."""
        groups = {int(k): v for k, v in (getattr(self, "example_groups_", None) or {}).items()}
        docs = [i for c in classes for i in groups.get(c, [])]
        order = np.random.default_rng(int(self.seed) & 0xFFFFFFFF).permutation(len(docs))
        return [docs[j] for j in order]

    # ----- persistence -----
    def state_json(self) -> dict[str, Any]:
        return {
            "example_groups": {str(k): list(v) for k, v in self.example_groups_.items()},
            "examples": list(self.examples_),
            "example_texts": {str(i): t for i, t in self.example_texts_.items()},
            "example_paths": {str(i): list(p) for i, p in self.example_paths_.items()},
        }

    def load_state(self, state: dict[str, Any], tensors, directory) -> None:
        self.example_groups_ = {int(k): [int(i) for i in v] for k, v in state.get("example_groups", {}).items()}
        self.examples_ = [int(i) for i in state.get("examples", [])]
        self.example_texts_ = {int(i): t for i, t in state.get("example_texts", {}).items()}
        self.example_paths_ = {int(i): tuple(int(n) for n in p) for i, p in state.get("example_paths", {}).items()}


class _PromptCaptured(Exception):
    pass


class _PromptProbe:
    """Stands in for the LLM client in `first_messages`: keeps the first call's messages and stops there."""

    def __init__(self):
        self.messages: list[dict[str, str]] = []

    def complete(self, messages, **kwargs):
        self.messages = list(messages)
        raise _PromptCaptured


def _digest(texts: Sequence[str]) -> str:
    h = hashlib.sha256()
    for text in texts:
        h.update(str(text).encode("utf-8", "replace"))
        h.update(b"\0")
    return h.hexdigest()
