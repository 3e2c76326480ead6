"""Runs the graph for a stored message: builds the state from Postgres rows (the message and its
conversation's recent turns), runs the pure graph, and records the outcome through the one
support action for it (support.agent_runs.record_outcome). Claiming the draft before and
releasing it after are support actions too (support.agent_runs.claim_draft, release_draft)."""

from __future__ import annotations

import logging

from django.conf import settings
from langgraph.graph.state import CompiledStateGraph
from threadpoolctl import ThreadpoolController

from agents.graph import build_graph, run_graph
from agents.services import default_services
from agents.state_builder import build_state, state_for_message
from resolver.once import once_per_process
from support.agent_runs import record_outcome
from support.documents.read import fail_unread, read_attachments
from support.models import Draft, Message
from support.outcome import DraftOutcome

logger = logging.getLogger(__name__)


@once_per_process
def worker_graph() -> CompiledStateGraph:
    """One compiled graph per worker process, built on first use (never at import)."""
    return build_graph(default_services())


# The dry run's message: it exercises triage, KB search and drafting (an empty KB is fine).
WARM_UP_MESSAGE = "Hello, where is my order? I would like to track it."


def warm_up() -> None:
    """Worker boot (settings.WORKER_WARMUP): builds the worker's graph, which loads the embedding
    model, the triage classifier and the configured provider, then drafts one message without
    recording it, so torch's first-call costs and the database connection are paid before the
    worker takes its first real message. The dry run uses the offline extractive provider: a
    paid LLM is never called just to warm up."""
    from agents.providers.extractive import ExtractiveProvider

    _torch_threads()
    worker_graph()
    dry_run = build_graph(default_services(drafter=ExtractiveProvider()))
    run_graph(dry_run, build_state(WARM_UP_MESSAGE))  # the graph writes nothing
    _native_threads()  # after the dry run: every native library a draft uses is loaded by now


def _torch_threads() -> None:
    """A worker drafts in several threads at once (WORKER_THREADS): each forward pass of the
    embedding model on one core. torch's own intra-op threads on top of them oversubscribe the
    cores, and on a busy machine spin-wait for each other (profiled: 12x slower per query with
    two threads per pass on two shared cores)."""
    import torch

    torch.set_num_threads(settings.WORKER_TORCH_THREADS)


def _native_threads() -> object:
    """The same for the native thread pools under numpy, scipy, scikit-learn and torch (OpenBLAS,
    OpenMP): WORKER_TORCH_THREADS threads each, where they would start one per core and spin
    beside the worker's other threads and PostgreSQL (README, "native thread pools"). Returns
    threadpoolctl's limiter (its restore_original_limits undoes it)."""
    return ThreadpoolController().limit(limits=settings.WORKER_TORCH_THREADS)


def run_for_draft(
    draft: Draft,
    event_id: str = "",
    trace_id: str = "",
    graph: CompiledStateGraph | None = None,
) -> DraftOutcome:
    """Drafts the message of a claimed `draft` and records the outcome (raises
    support.agent_runs.AlreadyRecorded when the event or the draft was handled meanwhile)."""
    # A claimed draft (support.agent_runs.claim_draft) brings its message along.
    if Draft.message.is_cached(draft):
        message = draft.message
    else:
        message = Message.objects.select_related("conversation").get(pk=draft.message_id)
    _read_documents(message)
    state = state_for_message(message)
    outcome = run_graph(graph or worker_graph(), state)
    record_outcome(draft.pk, outcome, event_id=event_id, trace_id=trace_id)
    return outcome


def _read_documents(message: Message) -> None:
    """Reads the message's attachments once (the graph sees what they say, as read). A failure
    there never stops the message from being drafted: it is logged and the attachments not
    read are listed as failed (a retry would only fail the same way)."""
    try:
        read_attachments(message.pk)
    except Exception:
        logger.exception("reading the attachments of message %s failed", message.pk)
        try:
            fail_unread(message.pk, "the reader failed (logged)")
        except Exception:  # the database refused even that: the draft lists no document
            logger.exception("recording the failed readings of message %s failed", message.pk)
