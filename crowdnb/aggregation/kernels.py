"""Numba kernels for the categorical aggregators' inner loops (the optional ``crowdnb[fast]``).

Why by hand: at 10 million answers from 100,000 workers, a Dawid-Skene iteration of the numpy
reference is two scipy sparse products plus whole-array numpy passes over the (tasks, labels)
posteriors. scipy's products loop over a number of labels its compiler does not know (the loop
neither unrolls nor keeps its sums in registers) on one core, and numpy reduces rows of 5 labels
(``max``, ``sum``, ``argmax``) one short row at a time. Each kernel that loops over labels is
compiled here for the number of labels (`for_labels`), does a step's work on a task, or a
worker-label pair, in one visit, and runs on every core; neither library has such operations.
What remains is memory latency: a product gathers one row of a 20-40 MB table at random per
answer. So the M-step's product is kept from one iteration to the next and only the change of
the tasks whose posteriors moved is added (`propagate`): after a few iterations almost every
task's posteriors have settled, and a few percent still move. Building the sparse matrices
(`tally`, `transpose`) is a counting sort instead of numpy's sort of 64-bit keys.

Each kernel mirrors a numpy reference in `crowdnb.aggregation.base` or
`crowdnb.aggregation.classification` and computes in the same order: sparse products sum a row's
entries in order from zero as scipy does, rows of labels sum left to right as numpy's ``sum``
does for fewer than 8 labels, votes sum answers in row order as ``np.bincount`` does, and
``exp`` and ``log`` are numpy's own, called between kernels. So labels agree, and posteriors
agree within 1e-9 (priors and the lower bound are summed in blocks, and the kept M-step sums
leave out moves below `PROPAGATE_ABOVE`: posteriors differed by 2e-12 at most at 10M answers). Parallel loops run over
fixed blocks of tasks or pairs whose partial sums are added in block order, so results do not
depend on the number of threads.

Inputs below `PARALLEL_FROM` elements run on one thread (starting threads costs more than they
save there, and on a busy machine a thread waiting for its peer costs much more), and parallel
calls are serialized: numba's fallback threading layer (workqueue) aborts the process when two
threads enter it at once. Compiled code is cached next to this file, or in numba's user cache
directory when that is not writable; with neither, each process compiles on first use (about
20 s for all kernels on 2 CPUs).

Selected by `crowdnb.aggregation.base.kernels`; ``CROWDNB_KERNELS=numpy`` turns them off.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numba
import numpy as np
from numba import prange

EPS = 1e-10
ENTROPY_EPS = -EPS * np.log(EPS)  # the entropy term of a posterior clipped at EPS
BLOCK = 4096  # tasks, pairs or workers per parallel block
# A task whose posteriors moved by at most this since they were last added into the expected
# answer counts is left as it is there (`propagate`); the counts then differ from a full sum by
# at most this times the answers of a worker-label pair, far below the 1e-9 the paths agree to.
PROPAGATE_ABOVE = 1e-15
PARALLEL_FROM = 2_000_000  # elements of work (answers, or cells of a tasks x labels array)
_LOCK = threading.Lock()


def _jit(function: Callable[..., Any], work: int | None = None) -> Callable[..., Any]:
    """``numba.njit``, cached where a cache directory is writable. With `work` (the position
    of the argument whose size measures the work) the kernel is parallel: it runs on one thread
    below `PARALLEL_FROM` elements of work, and one call at a time."""
    parallel = work is not None
    try:
        compiled = numba.njit(cache=True, parallel=parallel)(function)
    except RuntimeError:  # no writable cache location: compile in every process
        compiled = numba.njit(parallel=parallel)(function)
    if not parallel:
        return compiled

    @functools.wraps(function)
    def run(*args: Any) -> Any:
        with _LOCK:
            if args[work].size >= PARALLEL_FROM:
                return compiled(*args)
            threads = numba.get_num_threads()
            numba.set_num_threads(1)
            try:
                return compiled(*args)
            finally:
                numba.set_num_threads(threads)

    return run


def tally(task, worker, label, n_tasks, n_labels):  # type: ignore[no-untyped-def]
    """(indptr, indices, counts) of the tasks x worker-label pairs count matrix of the
    distinct (task, worker, label) triples: a counting sort by task, then each task's pairs
    sorted and merged (reference: ``base._tally``)."""
    n = len(task)
    starts = np.zeros(n_tasks + 1, np.int64)
    for i in range(n):
        starts[task[i] + 1] += 1
    for t in range(n_tasks):
        starts[t + 1] += starts[t]
    fill = starts[:-1].copy()
    pairs = np.empty(n, np.int32)
    for i in range(n):
        t = task[i]
        pairs[fill[t]] = worker[i] * n_labels + label[i]
        fill[t] += 1
    n_blocks = (n_tasks + BLOCK - 1) // BLOCK
    distinct = np.zeros(n_tasks + 1, np.int64)
    for b in prange(n_blocks):
        for t in range(b * BLOCK, min(n_tasks, (b + 1) * BLOCK)):
            first, last = starts[t], starts[t + 1]
            if last - first > 32:
                pairs[first:last].sort()
            else:  # insertion sort: a task has a few answers
                for j in range(first + 1, last):
                    value = pairs[j]
                    i = j - 1
                    while i >= first and pairs[i] > value:
                        pairs[i + 1] = pairs[i]
                        i -= 1
                    pairs[i + 1] = value
            count = 0
            for j in range(first, last):
                if j == first or pairs[j] != pairs[j - 1]:
                    count += 1
            distinct[t + 1] = count
    for t in range(n_tasks):
        distinct[t + 1] += distinct[t]
    if distinct[n_tasks] == n:  # no answer repeated: the sorted pairs are the matrix
        return starts, pairs, np.ones(n)
    indices = np.empty(distinct[n_tasks], np.int32)
    counts = np.empty(distinct[n_tasks], np.float64)
    for b in prange(n_blocks):
        for t in range(b * BLOCK, min(n_tasks, (b + 1) * BLOCK)):
            out = distinct[t] - 1
            for j in range(starts[t], starts[t + 1]):
                if j == starts[t] or pairs[j] != pairs[j - 1]:
                    out += 1
                    indices[out] = pairs[j]
                    counts[out] = 1.0
                else:
                    counts[out] += 1.0
    return distinct, indices, counts


def transpose(indptr, indices, data, n_columns):  # type: ignore[no-untyped-def]
    """(indptr, indices, data) of the transpose of a CSR matrix (rows of the result ascend in
    column order, as scipy's ``tocsr`` of the transpose has them); `data` empty stands for all
    ones (and the result's data is all ones)."""
    n_rows = len(indptr) - 1
    starts = np.zeros(n_columns + 1, np.int64)
    for j in range(len(indices)):
        starts[indices[j] + 1] += 1
    for c in range(n_columns):
        starts[c + 1] += starts[c]
    fill = starts[:-1].copy()
    rows = np.empty(len(indices), np.int32)
    ones = len(data) == 0
    values = np.ones(len(indices))
    for r in range(n_rows):
        for j in range(indptr[r], indptr[r + 1]):
            c = indices[j]
            rows[fill[c]] = r
            if not ones:
                values[fill[c]] = data[j]
            fill[c] += 1
    return starts, rows, values


def vote(task, worker, label, skills, shares):  # type: ignore[no-untyped-def]
    """Vote shares per task and label into `shares`, each answer weighted by its worker's skill
    (every answer 1 when `skills` is empty); summed in row order as ``np.bincount`` does
    (reference: ``majority_vote.weighted_vote``)."""
    n_tasks, n_labels = shares.shape
    shares[:] = 0.0
    weighted = len(skills) > 0
    for i in range(len(task)):
        shares[task[i], label[i]] += skills[worker[i]] if weighted else 1.0
    for t in range(n_tasks):
        total = shares[t, 0]
        for k in range(1, n_labels):
            total += shares[t, k]
        for k in range(n_labels):
            shares[t, k] /= total


tally = _jit(tally, work=0)
transpose = _jit(transpose)
vote = _jit(vote)


@functools.cache
def for_labels(n_labels: int) -> SimpleNamespace:
    """The kernels that loop over labels, compiled for `n_labels` labels (a constant inside them:
    the loops unroll, divisions by it become multiplications)."""
    K = n_labels  # the constant every loop over labels runs to

    def scores(indptr, indices, data, log_errors, log_priors, previous, shifted):  # type: ignore[no-untyped-def]
        """Per task and true label, the log-likelihood of the task's answers (per-pair
        `log_errors`, times the answer counts `data`, all 1 when `data` is empty) plus
        `log_priors`, minus the task's largest, into `shifted`; returns the expected
        complete-data log-likelihood of `previous` (the sum of previous x score). Reference:
        ``dawid_skene._Model.e_step`` up to ``np.exp``."""
        n_tasks = len(indptr) - 1
        n_blocks = (n_tasks + BLOCK - 1) // BLOCK
        ones = len(data) == 0
        sums = np.zeros(n_blocks)
        for b in prange(n_blocks):
            expected = 0.0
            for t in range(b * BLOCK, min(n_tasks, (b + 1) * BLOCK)):
                for k in range(K):
                    shifted[t, k] = 0.0
                for j in range(indptr[t], indptr[t + 1]):
                    count = 1.0 if ones else data[j]
                    p = indices[j]
                    for k in range(K):
                        shifted[t, k] += count * log_errors[p, k]
                top = -np.inf
                for k in range(K):
                    score = shifted[t, k] + log_priors[k]
                    expected += previous[t, k] * score
                    shifted[t, k] = score
                    top = max(top, score)
                for k in range(K):
                    shifted[t, k] -= top
            sums[b] = expected
        total = 0.0
        for b in range(n_blocks):
            total += sums[b]
        return total

    def hits(indptr, indices, truth, n_workers):  # type: ignore[no-untyped-def]
        """Per worker, how many of their distinct answers (the tasks x pairs count matrix's
        entries) equal `truth` (a label code per task), and how many they gave. Reference:
        ``base.Tally.accuracy``."""
        found = np.zeros(n_workers)
        given = np.zeros(n_workers)
        for t in range(len(indptr) - 1):
            right = truth[t]
            for j in range(indptr[t], indptr[t + 1]):
                worker, label = divmod(indices[j], K)
                given[worker] += 1.0
                if label == right:
                    found[worker] += 1.0
        return found, given

    def posteriors(shifted, likelihood, known, previous, propagated, moved):  # type: ignore[no-untyped-def]
        """Rows of `likelihood` (``exp(shifted)``) scaled to sum to one, in place, known
        answers (``known[t] >= 0``) set to certainty; ``moved[t]`` set where a task's new
        posteriors are more than `PROPAGATE_ABOVE` from `propagated` (unless that is empty).
        Returns, per label, the sum of the new posteriors, then their entropy (clipped at
        1e-10), their largest change from `previous` (0 when that is empty) and how many tasks
        moved."""
        n_tasks = len(shifted)
        n_blocks = (n_tasks + BLOCK - 1) // BLOCK
        measure, follow = len(previous) > 0, len(propagated) > 0
        sums = np.zeros((n_blocks, K + 3))
        for b in prange(n_blocks):
            mass = np.zeros(K)
            entropy = 0.0
            delta = 0.0
            count = 0
            for t in range(b * BLOCK, min(n_tasks, (b + 1) * BLOCK)):
                if known[t] >= 0:
                    for k in range(K):
                        likelihood[t, k] = 0.0
                    likelihood[t, known[t]] = 1.0
                    entropy += (K - 1) * ENTROPY_EPS
                else:
                    total = likelihood[t, 0]
                    for k in range(1, K):
                        total += likelihood[t, k]
                    log_total = np.log(total)
                    for k in range(K):
                        q = likelihood[t, k] / total
                        likelihood[t, k] = q
                        entropy += q * (log_total - shifted[t, k]) if q >= EPS else ENTROPY_EPS
                far = False
                for k in range(K):
                    mass[k] += likelihood[t, k]
                    if measure:
                        delta = max(delta, abs(likelihood[t, k] - previous[t, k]))
                    if follow:
                        far = far or abs(likelihood[t, k] - propagated[t, k]) > PROPAGATE_ABOVE
                if follow:
                    moved[t] = far
                    count += far
            for k in range(K):
                sums[b, k] = mass[k]
            sums[b, K] = entropy
            sums[b, K + 1] = delta
            sums[b, K + 2] = count
        result = np.zeros(K + 3)
        for b in range(n_blocks):
            for k in range(K + 1):
                result[k] += sums[b, k]
            result[K + 1] = max(result[K + 1], sums[b, K + 1])
            result[K + 2] += sums[b, K + 2]
        return result

    def expected_counts(indptr, indices, data, probas, counts):  # type: ignore[no-untyped-def]
        """Per worker-label pair and true label, the posteriors summed over the pair's tasks
        (the pairs x tasks count matrix, all counts 1 when `data` is empty, times `probas`),
        into `counts`. Reference: ``by_pair @ probas``."""
        n_pairs = len(indptr) - 1
        ones = len(data) == 0
        for b in prange((n_pairs + BLOCK - 1) // BLOCK):
            for p in range(b * BLOCK, min(n_pairs, (b + 1) * BLOCK)):
                for k in range(K):
                    counts[p, k] = 0.0
                for j in range(indptr[p], indptr[p + 1]):
                    count = 1.0 if ones else data[j]
                    t = indices[j]
                    for k in range(K):
                        counts[p, k] += count * probas[t, k]

    def propagate(indptr, indices, data, probas, propagated, counts, moved):  # type: ignore[no-untyped-def]
        """Bring `counts` (expected answer counts of the posteriors `propagated`) up to date
        with `probas`: for each task marked `moved` (by `posteriors`), add the change of its
        posteriors over its answers (from the tasks x pairs count matrix) and make its
        `propagated` its `probas`. One thread, tasks in order: deterministic."""
        ones = len(data) == 0
        for t in range(len(indptr) - 1):
            if not moved[t]:
                continue
            for j in range(indptr[t], indptr[t + 1]):
                count = 1.0 if ones else data[j]
                p = indices[j]
                for k in range(K):
                    counts[p, k] += count * (probas[t, k] - propagated[t, k])
            for k in range(K):
                propagated[t, k] = probas[t, k]

    def confusion(counts, observed, errors):  # type: ignore[no-untyped-def]
        """Dawid-Skene M-step into `errors` (workers x observed x true): expected counts
        clipped at 1e-10 where the worker gave the label (`observed`, per pair), zero where
        not, normalized over observed labels. Reference: ``dawid_skene._Model.confusion``."""
        n_workers = len(errors)
        for b in prange((n_workers + BLOCK - 1) // BLOCK):
            totals = np.empty(K)
            for w in range(b * BLOCK, min(n_workers, (b + 1) * BLOCK)):
                for label in range(K):
                    p = w * K + label
                    for k in range(K):
                        errors[w, label, k] = max(counts[p, k], EPS) if observed[p] else 0.0
                for k in range(K):
                    totals[k] = errors[w, 0, k]
                for label in range(1, K):
                    for k in range(K):
                        totals[k] += errors[w, label, k]
                for label in range(K):
                    for k in range(K):
                        errors[w, label, k] /= totals[k]

    def one_coin(counts, observed, answered, errors):  # type: ignore[no-untyped-def]
        """One-coin M-step into `errors`; returns the skills: each worker's summed posterior
        of the labels they gave over their number of answers (`answered`). Reference:
        ``dawid_skene._Model.one_coin``."""
        n_workers = len(errors)
        skills = np.empty(n_workers)
        for b in prange((n_workers + BLOCK - 1) // BLOCK):
            for w in range(b * BLOCK, min(n_workers, (b + 1) * BLOCK)):
                given = counts[w * K, 0]
                for label in range(1, K):
                    given += counts[w * K + label, label]
                skill = given / answered[w]
                skills[w] = skill
                wrong = min(max((1 - skill) / max(K - 1, 1), EPS), 1 - EPS)
                right = min(max(skill, EPS), 1 - EPS)
                for label in range(K):
                    seen = observed[w * K + label]
                    for k in range(K):
                        errors[w, label, k] = (right if k == label else wrong) if seen else 0.0
        return skills

    return SimpleNamespace(
        hits=_jit(hits),
        scores=_jit(scores, work=1),
        posteriors=_jit(posteriors, work=0),
        expected_counts=_jit(expected_counts, work=1),
        propagate=_jit(propagate),
        confusion=_jit(confusion, work=0),
        one_coin=_jit(one_coin, work=0),
    )
