"""A discrete-event simulation of uncoordinated pacers sharing one quota: B6's situation in
well under a second instead of minutes, for working on `AdaptivePacer`.

    .venv/bin/python -m benchmarks.pacing_sim                      # B6: 2 x 1,500 at 50/s
    .venv/bin/python -m benchmarks.pacing_sim --clients 1 --updates 600 --rate 10 \\
        --latency-ms 60 --jitter-ms 40                              # B9's shape

Each client is the real `AdaptivePacer` on the simulated clock, with `workers` workers that
take a slot (re-booking when a throttle voided it, as `take_slot` does), send, and retry a
429 after the engine's own full-jitter backoff (`RetryPolicy`'s defaults). The service is
the emulator's own `TokenBucket`. Latency is uniform in `latency_ms +- jitter_ms`; client
`i` starts at a seeded offset in `[0, --start-skew-ms)`. It leaves out 503s, concurrency
sizing, CPU and the network stack: a guide for tuning, not a benchmark (confirm with
`benchmarks.pacing`).
Prints, per seed, the combined wall time against the ideal, the 429 share, each client's
end, and every rate change a throttle caused.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from chime_bulk import RetryPolicy
from chime_bulk._policy.pacing import Adaptive, AdaptivePacer
from chime_bulk._policy.retry import FullJitterWait
from chime_bulk.emulator import RateLimit
from chime_bulk.emulator.quota import TokenBucket


@dataclass
class _Clock:
    now: float = 0.0
    _queue: list[tuple[float, int, Callable[[], None]]] = field(default_factory=list)
    _order: itertools.count[int] = field(default_factory=itertools.count)

    def __call__(self) -> float:
        return self.now

    def at(self, when: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._queue, (when, next(self._order), action))

    def run(self) -> None:
        while self._queue:
            self.now, _, action = heapq.heappop(self._queue)
            action()


@dataclass
class _Tally:
    requests: int = 0
    throttles: int = 0
    reactions: list[tuple[float, int, float, float]] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class Outcome:
    ratio: float  # combined wall time / ideal
    throttle_share: float
    ends: list[float]
    reactions: list[tuple[float, int, float, float]]  # (time, client, rate before, after)


class _Client:
    def __init__(
        self, *, index: int, updates: int, clock: _Clock, service: TokenBucket,
        args: argparse.Namespace, random_source: random.Random, tally: _Tally,
    ) -> None:  # fmt: skip
        self.index = index
        self.left = updates
        self.done = 0
        self.total = updates
        self.clock = clock
        self.service = service
        self.args = args
        self.random = random_source
        self.tally = tally
        self.pacer = AdaptivePacer(Adaptive(), clock=clock)
        self.backoff = FullJitterWait(RetryPolicy(), random=random_source.random).backoff
        self.end = 0.0

    def next_update(self) -> None:
        if self.left > 0:
            self.left -= 1
            self.take_slot(attempt=1)

    def take_slot(self, *, attempt: int) -> None:
        epoch = self.pacer.epoch
        delay = self.pacer.reserve()

        def after_wait() -> None:
            if self.pacer.epoch != epoch:  # voided by a throttle: book again
                self.take_slot(attempt=attempt)
            else:
                self.send(attempt=attempt)

        self.clock.at(self.clock() + max(delay, 0.0), after_wait)

    def send(self, *, attempt: int) -> None:
        latency = max(
            0.0, (self.args.latency_ms + self.random.uniform(-1, 1) * self.args.jitter_ms) / 1000
        )

        def arrive() -> None:
            accepted = self.service.try_acquire()
            self.tally.requests += 1
            self.tally.throttles += not accepted
            self.clock.at(self.clock() + latency / 2, lambda: self.answer(accepted, attempt))

        self.clock.at(self.clock() + latency / 2, arrive)

    def answer(self, accepted: bool, attempt: int) -> None:
        before = self.pacer.rate
        self.pacer.on_response(throttled=not accepted)
        if self.pacer.rate != before and not accepted:
            self.tally.reactions.append((self.clock(), self.index, before, self.pacer.rate))
        if accepted:
            self.done += 1
            if self.done == self.total:
                self.end = self.clock()
            self.next_update()
            return
        self.clock.at(
            self.clock() + self.backoff(attempt), lambda: self.take_slot(attempt=attempt + 1)
        )


def simulate(args: argparse.Namespace, *, seed: int) -> Outcome:
    """One run of `args.clients` clients over one service bucket."""
    random_source = random.Random(seed)
    clock = _Clock()
    service = TokenBucket(RateLimit(args.rate, args.burst), clock=clock)
    tally = _Tally()
    clients = []
    for index in range(args.clients):
        client = _Client(
            index=index, updates=args.updates, clock=clock, service=service, args=args,
            random_source=random_source, tally=tally,
        )  # fmt: skip
        start = random_source.uniform(0, args.start_skew_ms / 1000)
        for worker in range(args.workers):
            clock.at(start + worker * 1e-4, client.next_update)
        clients.append(client)
    clock.run()
    total = args.clients * args.updates
    ideal = (total - args.burst) / args.rate
    return Outcome(
        ratio=max(client.end for client in clients) / ideal,
        throttle_share=tally.throttles / total,
        ends=[client.end for client in clients],
        reactions=tally.reactions,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--updates", type=int, default=1500, help="per client")
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--burst", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=16, help="per client")
    parser.add_argument("--latency-ms", type=float, default=4.0)
    parser.add_argument("--jitter-ms", type=float, default=2.0)
    parser.add_argument("--start-skew-ms", type=float, default=5.0)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--reactions", action="store_true", help="print every rate change")
    args = parser.parse_args()
    for seed in range(args.seeds):
        outcome = simulate(args, seed=seed)
        ends = ", ".join(f"{end:.1f}" for end in outcome.ends)
        print(
            f"seed {seed}: {outcome.ratio:.3f} x ideal, {outcome.throttle_share:.2%} 429s, "
            f"clients end at {ends} s"
        )
        if args.reactions:
            for when, client, before, after in outcome.reactions:
                print(f"    {when:7.2f} s  client {client}  {before:6.1f}/s -> {after:6.1f}/s")


if __name__ == "__main__":
    main()
