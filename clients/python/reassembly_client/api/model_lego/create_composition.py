from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.composition_create import CompositionCreate
from ...models.composition_out import CompositionOut
from ...models.http_validation_error import HTTPValidationError
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    body: CompositionCreate,
    idempotency_key: None | str | Unset = UNSET,
    authorization: None | str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key

    if not isinstance(authorization, Unset):
        headers["authorization"] = authorization

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/compositions",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> CompositionOut | HTTPValidationError | None:
    if response.status_code == 202:
        response_202 = CompositionOut.from_dict(response.json())

        return response_202

    if response.status_code == 422:
        response_422 = HTTPValidationError.from_dict(response.json())

        return response_422

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[CompositionOut | HTTPValidationError]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: CompositionCreate,
    idempotency_key: None | str | Unset = UNSET,
    authorization: None | str | Unset = UNSET,
) -> Response[CompositionOut | HTTPValidationError]:
    """Create Composition

     Assemble components of one architecture into one classifier (a job): alignment padding, then
    parameter scaling on a validation split of the scaling dataset; Score1 (and Score2 after
    fine-tuning) on its eval split.

    Args:
        idempotency_key (None | str | Unset):
        authorization (None | str | Unset):
        body (CompositionCreate):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[CompositionOut | HTTPValidationError]
    """

    kwargs = _get_kwargs(
        body=body,
        idempotency_key=idempotency_key,
        authorization=authorization,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    body: CompositionCreate,
    idempotency_key: None | str | Unset = UNSET,
    authorization: None | str | Unset = UNSET,
) -> CompositionOut | HTTPValidationError | None:
    """Create Composition

     Assemble components of one architecture into one classifier (a job): alignment padding, then
    parameter scaling on a validation split of the scaling dataset; Score1 (and Score2 after
    fine-tuning) on its eval split.

    Args:
        idempotency_key (None | str | Unset):
        authorization (None | str | Unset):
        body (CompositionCreate):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        CompositionOut | HTTPValidationError
    """

    return sync_detailed(
        client=client,
        body=body,
        idempotency_key=idempotency_key,
        authorization=authorization,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: CompositionCreate,
    idempotency_key: None | str | Unset = UNSET,
    authorization: None | str | Unset = UNSET,
) -> Response[CompositionOut | HTTPValidationError]:
    """Create Composition

     Assemble components of one architecture into one classifier (a job): alignment padding, then
    parameter scaling on a validation split of the scaling dataset; Score1 (and Score2 after
    fine-tuning) on its eval split.

    Args:
        idempotency_key (None | str | Unset):
        authorization (None | str | Unset):
        body (CompositionCreate):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[CompositionOut | HTTPValidationError]
    """

    kwargs = _get_kwargs(
        body=body,
        idempotency_key=idempotency_key,
        authorization=authorization,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    body: CompositionCreate,
    idempotency_key: None | str | Unset = UNSET,
    authorization: None | str | Unset = UNSET,
) -> CompositionOut | HTTPValidationError | None:
    """Create Composition

     Assemble components of one architecture into one classifier (a job): alignment padding, then
    parameter scaling on a validation split of the scaling dataset; Score1 (and Score2 after
    fine-tuning) on its eval split.

    Args:
        idempotency_key (None | str | Unset):
        authorization (None | str | Unset):
        body (CompositionCreate):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        CompositionOut | HTTPValidationError
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
            idempotency_key=idempotency_key,
            authorization=authorization,
        )
    ).parsed
