"""benchmarks/common.py's stand-ins against the app: a challenge the load generators mint
must be one the app reads. (An app change once broke them and only a benchmark run, not
CI, showed it.)"""

from __future__ import annotations

import pytest

from benchmarks import common
from django_mfa_enroll import services
from django_mfa_enroll.authentication import read_challenge


def test_a_minted_challenge_reads_back_as_the_seeded_user_and_secret() -> None:
    challenge = read_challenge(common.challenge_for(7, epoch=3))
    assert challenge.user_id == str(common.user_uuid(7))
    assert challenge.secret_id == str(common.secret_uuid(7))
    assert challenge.epoch == 3
    assert read_challenge(common.challenge_for(8)).epoch == 0


def test_a_tampered_minted_challenge_is_refused() -> None:
    header, payload, signature = common.challenge_for(7).split(".")
    with pytest.raises(services.ChallengeInvalid):
        read_challenge(f"{header}.{payload}.{signature[:-4]}AAAA")
