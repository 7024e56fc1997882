import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

from profiles.normalisation import normalise_identifier, normalise_identifiers


@pytest.mark.parametrize(
    ("kind", "raw", "stored"),
    [
        ("email", "  Alice.Martin@Example.FR ", "alice.martin@example.fr"),
        ("phone", "06 12 34 56 78", "+33612345678"),
        ("phone", "06.12.34.56.78", "+33612345678"),
        ("phone", "+33 6 12 34 56 78", "+33612345678"),
        ("phone", "0033612345678", "+33612345678"),
        ("phone", "+32 470 12 34 56", "+32470123456"),
        ("crm_id", " CRM-001 ", "CRM-001"),
        ("anonymous_id", "9b2f-cookie", "9b2f-cookie"),
    ],
)
def test_identifiers_are_stored_normalised(kind, raw, stored):
    assert normalise_identifier(kind, raw) == stored


@override_settings(CDP_DEFAULT_PHONE_REGION="BE")
def test_a_local_phone_number_is_read_in_the_default_region():
    assert normalise_identifier("phone", "0470 12 34 56") == "+32470123456"


@pytest.mark.parametrize(
    ("kind", "raw", "message"),
    [
        ("email", "alice.example.fr", "“alice.example.fr” is not a valid email address."),
        ("email", "alice@", "“alice@” is not a valid email address."),
        # Accented local parts need SMTPUTF8, which most sending services refuse.
        ("email", "élodie@exemple.fr", "“élodie@exemple.fr” is not a valid email address."),
        ("phone", "12", "“12” is not a valid phone number."),
        ("phone", "06 12 34", "“06 12 34” is not a valid phone number."),
        ("phone", "not a phone", "“not a phone” is not a valid phone number."),
        ("crm_id", "   ", "The identifier is empty."),
    ],
)
def test_an_invalid_identifier_is_refused_naming_its_kind(kind, raw, message):
    with pytest.raises(ValidationError) as error:
        normalise_identifier(kind, raw)

    assert error.value.message_dict == {kind: [message]}


def test_an_unknown_identifier_kind_is_refused():
    with pytest.raises(ValidationError) as error:
        normalise_identifier("fax", "0123")

    assert "“fax” is not a known identifier kind" in error.value.message_dict["kind"][0]


@override_settings(CDP_EXTRA_IDENTIFIER_KINDS=["loyalty_card"])
def test_a_deployment_can_add_identifier_kinds():
    assert normalise_identifier("loyalty_card", " LC-77 ") == "LC-77"


def test_several_identifiers_are_normalised_deduplicated_and_every_error_reported():
    assert normalise_identifiers({"email": ["A@x.fr", " a@X.fr"], "phone": "06 12 34 56 78", "crm_id": ""}) == [
        ("email", "a@x.fr"),
        ("phone", "+33612345678"),
    ]
    with pytest.raises(ValidationError) as error:
        normalise_identifiers({"email": "nope", "phone": "12"})
    assert set(error.value.message_dict) == {"email", "phone"}


@pytest.mark.parametrize("region", ["FR", "BE", "GB", "IT", "US"])
def test_the_phone_shortcut_agrees_with_the_phone_library(region):
    import random

    import phonenumbers
    from django.test import override_settings

    def by_the_library(raw: str) -> str | None:
        text = raw.strip()
        text = "+" + text[2:] if text.startswith("00") else text
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            return None
        if not phonenumbers.is_valid_number(number):
            return None
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    rng = random.Random(7)
    country = str(phonenumbers.country_code_for_region(region))
    shapes = [
        lambda d: "0" + d,
        lambda d: "0" + " ".join(d[i : i + 2] for i in range(0, len(d), 2)),
        lambda d: "+" + country + d,
        lambda d: f"+{country} (0){d}",
        lambda d: "00" + country + "." + d,
        lambda d: "+33" + d,
        lambda d: d,
    ]
    for _attempt in range(3_000):
        digits = "".join(rng.choice("0123456789") for _digit in range(rng.choice([8, 9, 10])))
        raw = rng.choice(shapes)(digits)
        with override_settings(CDP_DEFAULT_PHONE_REGION=region):
            try:
                ours = normalise_identifier("phone", raw)
            except ValidationError:
                ours = None
        assert ours == by_the_library(raw), raw


def test_the_compiled_validity_check_agrees_with_the_phone_library_in_every_region():
    import random

    import phonenumbers

    from profiles.normalisation import _national_number_check

    rng = random.Random(11)
    compared = 0
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        check = _national_number_check(region)
        if check is None:
            continue  # a country code shared by several regions: the library decides
        country = phonenumbers.country_code_for_region(region)
        examples = [phonenumbers.example_number_for_type(region, kind) for kind in range(12)]
        nationals = [phonenumbers.national_significant_number(number) for number in examples if number is not None]
        nationals = [national for national in nationals if not national.startswith("0")]
        for _attempt in range(400):
            if nationals and rng.random() < 0.5:
                # A valid number with a digit changed, added or taken away: near the patterns' edges.
                digits = list(rng.choice(nationals))
                position = rng.randrange(len(digits))
                change = rng.choice(["replace", "insert", "delete", "none"])
                if change == "replace":
                    digits[position] = rng.choice("0123456789")
                elif change == "insert":
                    digits.insert(position, rng.choice("0123456789"))
                elif change == "delete" and len(digits) > 1:
                    del digits[position]
                national = "".join(digits)
            else:
                national = str(rng.randint(1, 9)) + "".join(
                    rng.choice("0123456789") for _digit in range(rng.randint(0, 16))
                )
            if national.startswith("0"):
                continue
            number = phonenumbers.PhoneNumber(country_code=country, national_number=int(national))
            assert check(national) == phonenumbers.is_valid_number(number), (region, national)
            compared += 1
    assert compared > 50_000


@pytest.mark.parametrize("region", ["FR", "BE", "CH"])
def test_international_numbers_in_the_usual_shapes_agree_with_the_phone_library(region):
    import random

    import phonenumbers

    rng = random.Random(region)
    regions = sorted(phonenumbers.SUPPORTED_REGIONS)
    for _attempt in range(3_000):
        other = rng.choice(regions)
        country = phonenumbers.country_code_for_region(other)
        example = phonenumbers.example_number_for_type(other, rng.choice([0, 1]))
        if example is None:
            continue
        digits = list(phonenumbers.national_significant_number(example))
        if rng.random() < 0.5:
            digits[rng.randrange(len(digits))] = rng.choice("0123456789")
        national = "".join(digits)
        raw = rng.choice([f"+{country} {national}", f"00{country}{national}", f"+{country}.{national}", f"0{national}"])
        try:
            number = phonenumbers.parse("+" + raw[2:] if raw.startswith("00") else raw, region)
            expected = (
                phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
                if phonenumbers.is_valid_number(number)
                else None
            )
        except phonenumbers.NumberParseException:
            expected = None
        with override_settings(CDP_DEFAULT_PHONE_REGION=region):
            try:
                ours = normalise_identifier("phone", raw)
            except ValidationError:
                ours = None
        assert ours == expected, raw
