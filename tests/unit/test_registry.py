"""In-process sharing of pacers: one per account, Region, operation, settings and clock."""

from __future__ import annotations

import gc
from dataclasses import replace

from chime_bulk._policy.pacing import Adaptive, AdaptivePacer
from chime_bulk._policy.registry import PacerRegistry
from chime_bulk._policy.scope import QuotaScope
from fakes import ManualClock

SCOPE = QuotaScope(access_key_id="AKID1", endpoint_url=None, region="us-east-1", operation="Op")


def test_same_scope_and_settings_share_one_pacer_and_its_learned_rate() -> None:
    """A second updater of the same quota gets the very pacer the first one taught."""
    registry = PacerRegistry()
    clock = ManualClock()
    first = registry.pacer(SCOPE, Adaptive(), clock=clock)
    assert isinstance(first, AdaptivePacer)
    for _ in range(40):
        first.on_response(throttled=False)
    first.on_response(throttled=True)
    second = registry.pacer(replace(SCOPE), Adaptive(), clock=clock)
    assert second is first
    assert second.rate == first.rate != Adaptive().initial_rate


def test_another_key_endpoint_region_operation_or_setting_is_another_pacer() -> None:
    """Anything that names another quota, or other rules, gets a pacer of its own."""
    registry = PacerRegistry()
    clock = ManualClock()
    base = registry.pacer(SCOPE, Adaptive(), clock=clock)
    others = [
        registry.pacer(replace(SCOPE, access_key_id="AKID2"), Adaptive(), clock=clock),
        registry.pacer(replace(SCOPE, endpoint_url="http://127.0.0.1:1"), Adaptive(), clock=clock),
        registry.pacer(replace(SCOPE, region="eu-central-1"), Adaptive(), clock=clock),
        registry.pacer(replace(SCOPE, operation="Other"), Adaptive(), clock=clock),
        registry.pacer(SCOPE, Adaptive(max_rate=5), clock=clock),
        registry.pacer(SCOPE, Adaptive(), clock=ManualClock()),
    ]
    assert all(other is not base for other in others)
    assert len({id(other) for other in others}) == len(others)


def test_a_pacer_nobody_holds_is_forgotten() -> None:
    """The registry holds pacers weakly: once no updater keeps one, it is gone."""
    registry = PacerRegistry()
    clock = ManualClock()
    pacer = registry.pacer(SCOPE, Adaptive(), clock=clock)
    assert len(registry) == 1
    del pacer
    gc.collect()
    assert len(registry) == 0


def test_the_scope_fingerprint_does_not_spell_out_the_access_key() -> None:
    """Keys in a shared store name the account by a digest, never by its access key ID."""
    fingerprint = SCOPE.fingerprint()
    assert "AKID1" not in fingerprint
    assert fingerprint.endswith(":us-east-1:Op")
    assert fingerprint != replace(SCOPE, access_key_id="AKID2").fingerprint()
