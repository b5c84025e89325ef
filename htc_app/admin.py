"""Admin: failed sign-ins, with an action that unlocks the accounts and addresses of the selected rows."""

from __future__ import annotations

from django.contrib import admin, messages

from htc_app.models import SignInFailure
from htc_app.signin import signin_unlock
from htc_app.templatetags.bidi import bdi


@admin.register(SignInFailure)
class SignInFailureAdmin(admin.ModelAdmin):
    list_display = ("scope", "key_shown", "created_at")
    list_filter = ("scope",)
    search_fields = ("key",)
    actions = ["unlock"]

    @admin.display(description="account or address", ordering="key")
    def key_shown(self, failure: SignInFailure) -> str:
        return bdi(failure.key)  # a username is user text: bidi-isolated as on every page

    @admin.action(description="Unlock the selected accounts and addresses")
    def unlock(self, request, queryset):
        pairs = set(queryset.values_list("scope", "key"))
        cleared = sum(signin_unlock(scope=scope, key=key) for scope, key in pairs)
        self.message_user(
            request, f"Unlocked {len(pairs)} account(s) or address(es); {cleared} failures forgotten.", messages.SUCCESS
        )
