"""User journeys against moto's Cognito, firing Integreat's triggers where Cognito would.

moto never invokes Lambda triggers, so these helpers call the real handlers (the functions Chalice
deploys from chalicelib/identity/triggers.py)
with the recorded event shapes from tests/events/, at the points real Cognito does.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from chalicelib.identity import triggers
from tests.conftest import IdentityPlatform, load_event

PASSWORD = "Corr3ct-Horse-Battery!"


def cognito_event(
    name: str, *, username: str, client_id: str, groups: list[str] | None = None
) -> dict[str, Any]:
    """A recorded trigger event with this user, client and (pre-token) current groups."""
    event = copy.deepcopy(load_event(name))
    event["userName"] = username
    event["callerContext"]["clientId"] = client_id
    if groups is not None:
        event["request"]["groupConfiguration"]["groupsToOverride"] = list(groups)
    return event


@dataclass
class Users:
    identity: IdentityPlatform

    def client(self, slug: str) -> str:
        return self.identity.clients[slug]

    def sign_up(self, slug: str, email: str, *, confirm_via: str | None = None) -> str:
        """Self sign-up through `slug`'s client, then confirmation (through another app's client
        when `confirm_via` names one), with pre sign-up and post confirmation fired."""
        client_id = self.client(slug)
        triggers.pre_sign_up(
            cognito_event("cognito_pre_signup_signup", username=email, client_id=client_id), None
        )
        cognito = self.identity.cognito()
        cognito.sign_up(
            ClientId=client_id,
            Username=email,
            Password=PASSWORD,
            UserAttributes=[{"Name": "email", "Value": email}],
        )
        cognito.admin_confirm_sign_up(UserPoolId=self.identity.user_pool_id, Username=email)
        confirm_client = self.client(confirm_via) if confirm_via else client_id
        self.confirmed(email, confirm_client)
        return email

    def confirmed(
        self, username: str, client_id: str, name: str = "cognito_post_confirmation_confirm_signup"
    ) -> None:
        triggers.post_confirmation(cognito_event(name, username=username, client_id=client_id), None)

    def groups(self, username: str) -> list[str]:
        found = self.identity.cognito().admin_list_groups_for_user(
            UserPoolId=self.identity.user_pool_id, Username=username
        )
        return sorted(g["GroupName"] for g in found["Groups"])

    def add_to_group(self, username: str, group: str) -> None:
        self.identity.cognito().admin_add_user_to_group(
            UserPoolId=self.identity.user_pool_id, Username=username, GroupName=group
        )

    def login(self, slug: str, username: str) -> dict[str, str]:
        """Tokens from moto for `slug`'s client (signed by moto's key; cognito:groups included)."""
        result = self.identity.cognito().initiate_auth(
            ClientId=self.client(slug),
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
        )["AuthenticationResult"]
        return {"access": result["AccessToken"], "id": result["IdToken"], "refresh": result["RefreshToken"]}

    def refresh(self, slug: str, refresh_token: str) -> dict[str, str]:
        result = self.identity.cognito().initiate_auth(
            ClientId=self.client(slug),
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": refresh_token},
        )["AuthenticationResult"]
        return {"access": result["AccessToken"], "id": result["IdToken"]}

    def pre_token(
        self, slug: str, username: str, name: str = "cognito_pre_token_v2_authentication"
    ) -> dict[str, Any]:
        """Run the pre-token trigger as Cognito would for this user's current groups."""
        event = cognito_event(
            name, username=username, client_id=self.client(slug), groups=self.groups(username)
        )
        result: dict[str, Any] = triggers.pre_token_generation(event, None)
        return result
