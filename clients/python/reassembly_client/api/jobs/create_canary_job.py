from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.canary_in import CanaryIn
from ...models.error_out import ErrorOut
from ...models.job_out import JobOut
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    body: CanaryIn,
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
        "url": "/v1/jobs:canary",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> ErrorOut | JobOut | None:
    if response.status_code == 202:
        response_202 = JobOut.from_dict(response.json())

        return response_202

    if response.status_code == 400:
        response_400 = ErrorOut.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = ErrorOut.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = ErrorOut.from_dict(response.json())

        return response_403

    if response.status_code == 404:
        response_404 = ErrorOut.from_dict(response.json())

        return response_404

    if response.status_code == 409:
        response_409 = ErrorOut.from_dict(response.json())

        return response_409

    if response.status_code == 413:
        response_413 = ErrorOut.from_dict(response.json())

        return response_413

    if response.status_code == 415:
        response_415 = ErrorOut.from_dict(response.json())

        return response_415

    if response.status_code == 416:
        response_416 = ErrorOut.from_dict(response.json())

        return response_416

    if response.status_code == 422:
        response_422 = ErrorOut.from_dict(response.json())

        return response_422

    if response.status_code == 500:
        response_500 = ErrorOut.from_dict(response.json())

        return response_500

    if response.status_code == 503:
        response_503 = ErrorOut.from_dict(response.json())

        return response_503

    if response.status_code == 507:
        response_507 = ErrorOut.from_dict(response.json())

        return response_507

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[ErrorOut | JobOut]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: CanaryIn,
    idempotency_key: None | str | Unset = UNSET,
    authorization: None | str | Unset = UNSET,
) -> Response[ErrorOut | JobOut]:
    """Create Canary

    Args:
        idempotency_key (None | str | Unset):
        authorization (None | str | Unset):
        body (CanaryIn):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorOut | JobOut]
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
    body: CanaryIn,
    idempotency_key: None | str | Unset = UNSET,
    authorization: None | str | Unset = UNSET,
) -> ErrorOut | JobOut | None:
    """Create Canary

    Args:
        idempotency_key (None | str | Unset):
        authorization (None | str | Unset):
        body (CanaryIn):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorOut | JobOut
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
    body: CanaryIn,
    idempotency_key: None | str | Unset = UNSET,
    authorization: None | str | Unset = UNSET,
) -> Response[ErrorOut | JobOut]:
    """Create Canary

    Args:
        idempotency_key (None | str | Unset):
        authorization (None | str | Unset):
        body (CanaryIn):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorOut | JobOut]
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
    body: CanaryIn,
    idempotency_key: None | str | Unset = UNSET,
    authorization: None | str | Unset = UNSET,
) -> ErrorOut | JobOut | None:
    """Create Canary

    Args:
        idempotency_key (None | str | Unset):
        authorization (None | str | Unset):
        body (CanaryIn):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorOut | JobOut
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
            idempotency_key=idempotency_key,
            authorization=authorization,
        )
    ).parsed
