"""Your API tokens: list, create (the key is shown once) and revoke."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from api.models import ApiToken
from api.serializers.tokens import NewTokenSerializer, TokenCreateSerializer, TokenSerializer
from api.services import TokenRateLimited, token_create, token_revoke


class TokenListView(GenericAPIView):
    serializer_class = TokenSerializer

    @extend_schema(summary="Your API tokens (keys are never shown again)", responses=TokenSerializer(many=True))
    def get(self, request):
        qs = ApiToken.objects.filter(user=request.user).order_by("-created_at", "-id")
        return self.get_paginated_response(TokenSerializer(self.paginate_queryset(qs), many=True).data)

    @extend_schema(
        summary="Create an API token for yourself; the response holds the key, once",
        request=TokenCreateSerializer,
        responses={201: NewTokenSerializer},
    )
    def post(self, request):
        data = TokenCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            token, key = token_create(user=request.user, name=data.validated_data["name"])
        except TokenRateLimited as exc:
            raise exceptions.Throttled(detail=str(exc)) from None
        token.key = key
        return Response(NewTokenSerializer(token).data, status=status.HTTP_201_CREATED)


class TokenDetailView(GenericAPIView):
    serializer_class = TokenSerializer

    @extend_schema(summary="One of your tokens")
    def get(self, request, token_id: int):
        return Response(TokenSerializer(get_object_or_404(ApiToken, user=request.user, pk=token_id)).data)

    @extend_schema(summary="Revoke one of your tokens", responses={204: None})
    def delete(self, request, token_id: int):
        token = get_object_or_404(ApiToken, user=request.user, pk=token_id)
        token_revoke(token=token, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
