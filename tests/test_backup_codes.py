"""backup_codes.py: making a set, reading what a person typed, hashing and checking.

NIST SP 800-63B 5.1.2 and OWASP ASVS 5.0 V6.5: codes from a CSPRNG, at least 50 bits each,
stored salted and hashed with a password-hashing function, one hash evaluation per check.
"""

from __future__ import annotations

import math
import re
from collections import Counter

import pytest
from django.contrib.auth import hashers

from django_mfa_enroll import backup_codes
from django_mfa_enroll.backup_codes import ALPHABET, BackupCodeHasher
from django_mfa_enroll.conf import DEFAULTS

ITERATIONS = 1_000  # low, to keep the suite quick; the check reads the count from the hash
CODE = "k7m29xqp4rtw"  # a normalised code: selector "k", secret part "7m29xqp4rtw"
DISPLAY_RE = re.compile(rf"^[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}$")


@pytest.fixture
def pbkdf2_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the iteration count of every PBKDF2 evaluation Django's hashers make.

    PBKDF2PasswordHasher.encode calls the name ``pbkdf2`` imported into
    django.contrib.auth.hashers from django.utils.crypto, so that is the one to replace.
    """
    calls: list[int] = []
    real = hashers.pbkdf2

    def counting(password, salt, iterations, dklen=0, digest=None):
        calls.append(iterations)
        return real(password, salt, iterations, dklen=dklen, digest=digest)

    monkeypatch.setattr(hashers, "pbkdf2", counting)
    return calls


def _other_char(ch: str) -> str:
    return next(c for c in ALPHABET if c != ch)


# --- The alphabet and the entropy budget ---------------------------------------------------


@pytest.mark.parametrize("excluded", ["0", "o", "1", "i", "l"])
def test_alphabet_leaves_out_symbols_people_confuse(excluded):
    assert excluded not in ALPHABET


def test_alphabet_has_no_repeats_and_is_lower_case_ascii():
    assert len(set(ALPHABET)) == len(ALPHABET)
    assert ALPHABET.lower() == ALPHABET
    assert ALPHABET.isascii()


def test_secret_part_has_at_least_50_bits():
    assert backup_codes.SECRET_BITS >= 50
    assert math.isclose(
        backup_codes.SECRET_BITS, backup_codes.SECRET_LENGTH * math.log2(len(ALPHABET))
    )


@pytest.mark.parametrize("iterations", [20_000, DEFAULTS["BACKUP_CODE_ITERATIONS"]])
def test_offline_attack_on_one_hash_costs_at_least_2_to_the_64(iterations):
    assert backup_codes.SECRET_BITS + math.log2(iterations) >= 64


# --- generate_set --------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 2, 10, backup_codes.MAX_SET_SIZE])
def test_generate_set_gives_count_distinct_codes_with_distinct_selectors(count):
    codes = backup_codes.generate_set(count)
    assert len(codes) == count
    assert len(set(codes)) == count
    normalised = [backup_codes.normalise(code) for code in codes]
    assert None not in normalised
    selectors = [backup_codes.selector_of(code) for code in normalised]
    assert len(set(selectors)) == count


def test_generate_set_codes_are_in_display_form_from_the_alphabet_only():
    for code in backup_codes.generate_set(backup_codes.MAX_SET_SIZE):
        assert DISPLAY_RE.fullmatch(code), code
        assert set(code.replace("-", "")) <= set(ALPHABET)
        assert not set(code) & set("0o1il")


def test_a_full_set_uses_every_selector_once():
    codes = backup_codes.generate_set(backup_codes.MAX_SET_SIZE)
    assert sorted(code[0] for code in codes) == sorted(ALPHABET)


@pytest.mark.parametrize("count", [0, -1, backup_codes.MAX_SET_SIZE + 1, 1000])
def test_generate_set_refuses_a_size_out_of_range(count):
    with pytest.raises(ValueError):
        backup_codes.generate_set(count)


def test_display_groups_a_normalised_code_in_fours():
    assert backup_codes.display(CODE) == "k7m2-9xqp-4rtw"
    assert backup_codes.normalise(backup_codes.display(CODE)) == CODE


def test_two_thousand_codes_have_no_duplicates_and_use_the_whole_alphabet():
    """Loose randomness check: no repeats, every symbol present, no gross bias.

    With 31 symbols and 2,000+ codes of 11 secret symbols, each symbol is expected ~700
    times. The chi-square statistic (30 degrees of freedom, mean 30, sd ~7.7) is held to a
    bound of 150, which a fair CSPRNG exceeds with probability far below 1e-15, while a
    generator stuck on part of the alphabet lands in the thousands.
    """
    codes: list[str] = []
    while len(codes) < 2_000:
        codes.extend(backup_codes.generate_set(backup_codes.MAX_SET_SIZE))
    normalised = [backup_codes.normalise(code) for code in codes]
    secrets = [code[backup_codes.SELECTOR_LENGTH :] for code in normalised]

    assert len(set(normalised)) == len(normalised)
    assert len(set(secrets)) == len(secrets)

    counts = Counter("".join(secrets))
    assert set(counts) == set(ALPHABET)
    expected = len(secrets) * backup_codes.SECRET_LENGTH / len(ALPHABET)
    chi_square = sum((counts[ch] - expected) ** 2 / expected for ch in ALPHABET)
    assert chi_square < 150, (chi_square, counts)


# --- normalise -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "k7m29xqp4rtw",
        "k7m2-9xqp-4rtw",
        "K7M2-9XQP-4RTW",
        "K7m2-9XqP-4rTw",
        "k7m2 9xqp 4rtw",
        "  k7m2 - 9xqp - 4rtw  ",
        "k7m2\t9xqp\t4rtw",
        "k7m2--9xqp--4rtw",
        "k-7-m-2-9-x-q-p-4-r-t-w",
        "\tK7M2 9XQP-4rtw ",
    ],
)
def test_normalise_ignores_case_spaces_hyphens_and_tabs(typed):
    assert backup_codes.normalise(typed) == CODE


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "    ",
        "----",
        "k7m29xqp4rt",  # 11 symbols
        "k7m29xqp4rtwa",  # 13 symbols
        "k7m2-9xqp",
        "k7m2-9xqp-4rtw-k7m2",
    ],
)
def test_normalise_refuses_the_wrong_length(typed):
    assert backup_codes.normalise(typed) is None


@pytest.mark.parametrize("bad", ["0", "o", "O", "1", "i", "I", "l", "L"])
@pytest.mark.parametrize("position", [0, 1, 5, 11])
def test_normalise_refuses_excluded_symbols(bad, position):
    typed = CODE[:position] + bad + CODE[position + 1 :]
    assert len(typed) == backup_codes.CODE_LENGTH
    assert backup_codes.normalise(typed) is None


@pytest.mark.parametrize(
    "typed",
    [
        "ｋ7m29xqp4rtw",  # fullwidth k
        "к7m29xqp4rtw",  # Cyrillic ka
        "Κ7m29xqp4rtw",  # Greek capital kappa
        "k７m29xqp4rtw",  # fullwidth 7
        "k7m2\u00a09xqp4rtw",  # no-break space is not ignored
        "k7m2\u20109xqp4rtw",  # Unicode hyphen is not ignored
        "é7m29xqp4rtw",
        "İ7m29xqp4rtw",  # lower() turns it into two code points
        "k7m29xqp4rt\u0301",  # combining accent
        "\u212a7m29xqp4rtw",  # KELVIN SIGN: str.lower() maps it to ASCII "k"
    ],
)
def test_normalise_refuses_non_ascii(typed):
    assert backup_codes.normalise(typed) is None


def test_selector_of_is_the_first_symbol():
    assert backup_codes.selector_of(CODE) == "k"
    assert backup_codes.SELECTOR_LENGTH == 1


# --- make_hash -----------------------------------------------------------------------------


@pytest.mark.parametrize("iterations", [1_000, 20_000])
def test_make_hash_is_pbkdf2_sha256_with_the_iteration_count(iterations):
    encoded = backup_codes.make_hash(CODE, iterations)
    assert encoded.startswith(f"pbkdf2_sha256${iterations}$")
    algorithm, stored_iterations, salt, digest = encoded.split("$")
    assert (algorithm, int(stored_iterations)) == ("pbkdf2_sha256", iterations)
    assert salt and digest


def test_make_hash_is_salted():
    first = backup_codes.make_hash(CODE, ITERATIONS)
    second = backup_codes.make_hash(CODE, ITERATIONS)
    assert first != second
    assert first.split("$")[2] != second.split("$")[2]
    assert backup_codes.check(CODE, first)
    assert backup_codes.check(CODE, second)


def test_make_hash_does_not_contain_the_code_or_its_secret_part():
    encoded = backup_codes.make_hash(CODE, ITERATIONS)
    secret_part = CODE[backup_codes.SELECTOR_LENGTH :]
    for fragment in (CODE, secret_part, backup_codes.display(CODE), secret_part.upper()):
        assert fragment not in encoded


def test_make_hash_fits_the_model_column():
    from django_mfa_enroll.models import BackupCode

    max_length = BackupCode._meta.get_field("code_hash").max_length
    assert len(backup_codes.make_hash(CODE, DEFAULTS["BACKUP_CODE_ITERATIONS"])) <= max_length


# --- check ---------------------------------------------------------------------------------


def test_check_accepts_the_right_code():
    assert backup_codes.check(CODE, backup_codes.make_hash(CODE, ITERATIONS)) is True


@pytest.mark.parametrize("position", range(backup_codes.SELECTOR_LENGTH, backup_codes.CODE_LENGTH))
def test_check_refuses_a_code_one_secret_symbol_off(position):
    encoded = backup_codes.make_hash(CODE, ITERATIONS)
    wrong = CODE[:position] + _other_char(CODE[position]) + CODE[position + 1 :]
    assert backup_codes.check(wrong, encoded) is False


def test_check_looks_at_the_secret_part_only():
    """The selector is not hashed: it is stored in the clear and picks the row to check.

    So a code that differs only in its selector passes ``check`` against this hash. That is
    by design, not a weakness: the services look the row up by the typed selector, so such a
    code is checked against another row's hash (or none), and the selector adds no secrecy
    (the 54.5 bits of the budget are the secret part's alone).
    """
    encoded = backup_codes.make_hash(CODE, ITERATIONS)
    other_selector = _other_char(CODE[0]) + CODE[1:]
    assert backup_codes.check(other_selector, encoded) is True


def test_check_uses_the_iteration_count_stored_in_the_hash(pbkdf2_calls):
    encoded = backup_codes.make_hash(CODE, 1_000)
    pbkdf2_calls.clear()
    # check() builds BackupCodeHasher(0): the count must come from the hash, not the hasher.
    assert backup_codes.check(CODE, encoded) is True
    assert pbkdf2_calls == [1_000]


def test_a_hash_made_under_an_old_iteration_count_still_checks():
    old = backup_codes.make_hash(CODE, 1_000)
    new = backup_codes.make_hash(CODE, 2_000)
    assert backup_codes.check(CODE, old)
    assert backup_codes.check(CODE, new)


def test_backup_code_hasher_takes_its_iteration_count_from_the_constructor():
    assert BackupCodeHasher(1234).iterations == 1234
    assert BackupCodeHasher(0).iterations == 0
    assert hashers.PBKDF2PasswordHasher.iterations != 1234  # the class default is untouched


# --- exactly one PBKDF2 evaluation per operation -------------------------------------------


def test_the_counting_patch_sees_django_pbkdf2(pbkdf2_calls):
    hashers.PBKDF2PasswordHasher().encode("x", "salt", iterations=7)
    assert pbkdf2_calls == [7]


@pytest.mark.parametrize("right", [True, False], ids=["right-code", "wrong-code"])
def test_check_costs_exactly_one_pbkdf2_evaluation(pbkdf2_calls, right):
    encoded = backup_codes.make_hash(CODE, ITERATIONS)
    pbkdf2_calls.clear()
    typed = CODE if right else CODE[:-1] + _other_char(CODE[-1])
    assert backup_codes.check(typed, encoded) is right
    assert pbkdf2_calls == [ITERATIONS]


@pytest.mark.parametrize("iterations", [1_000, 20_000])
def test_burn_costs_exactly_one_pbkdf2_evaluation(pbkdf2_calls, iterations):
    assert backup_codes.burn(iterations) is None
    assert pbkdf2_calls == [iterations]


def test_make_hash_costs_exactly_one_pbkdf2_evaluation(pbkdf2_calls):
    backup_codes.make_hash(CODE, ITERATIONS)
    assert pbkdf2_calls == [ITERATIONS]
