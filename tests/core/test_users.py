"""Users are read as a typed, frozen `User` with a `Tier`, from the users table (moto over HTTP)."""

import dataclasses

import pytest

from gas.core.users import Tier, User, UserStore


def test_a_user_reads_as_stored_free_then_premium(provisioned):
    users = UserStore(provisioned)
    made = users.upsert("u-typed", "Ada Lovelace", "ada@example.org")
    assert made == users.get("u-typed")
    assert (made.user_id, made.name, made.email, made.tier, made.premium) == (
        "u-typed",
        "Ada Lovelace",
        "ada@example.org",
        Tier.FREE,
        False,
    )
    assert made.session_generation == 0 and made.created_at and made.upgraded_at is None
    assert users.upgrade("u-typed")
    upgraded = users.get("u-typed")
    assert upgraded is not None and upgraded.tier is Tier.PREMIUM and upgraded.premium and upgraded.upgraded_at
    users.end_sessions("u-typed")
    again = users.upsert("u-typed", "Ada King", "ada@example.org")  # a sign-in keeps the tier
    assert (again.name, again.tier, again.session_generation) == ("Ada King", Tier.PREMIUM, 1)
    assert users.get("nobody") is None


def test_a_user_is_frozen():
    user = User("u", "Ada", "ada@example.org")
    with pytest.raises(dataclasses.FrozenInstanceError):
        user.tier = Tier.PREMIUM  # type: ignore[misc]


def test_a_tier_it_does_not_know_reads_as_free(provisioned):
    """Only upgrade() writes a tier other than free; anything else is not premium."""
    users = UserStore(provisioned)
    users.upsert("u-odd", "Ada", "ada@example.org")
    provisioned.client("dynamodb").update_item(
        TableName=provisioned.names.users_table,
        Key={"user_id": {"S": "u-odd"}},
        UpdateExpression="SET tier = :t",
        ExpressionAttributeValues={":t": {"S": "enterprise"}},
    )
    user = users.get("u-odd")
    assert user is not None and user.tier is Tier.FREE and not user.premium
