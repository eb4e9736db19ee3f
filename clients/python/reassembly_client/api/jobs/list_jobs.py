from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_out import ErrorOut
from ...models.list_jobs_status_type_0 import ListJobsStatusType0
from ...models.page_job_out import PageJobOut
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    status: ListJobsStatusType0 | None | Unset = UNSET,
    kind: None | str | Unset = UNSET,
    limit: int | Unset = 50,
    cursor: None | str | Unset = UNSET,
    authorization: None | str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(authorization, Unset):
        headers["authorization"] = authorization

    params: dict[str, Any] = {}

    json_status: None | str | Unset
    if isinstance(status, Unset):
        json_status = UNSET
    elif isinstance(status, ListJobsStatusType0):
        json_status = status.value
    else:
        json_status = status
    params["status"] = json_status

    json_kind: None | str | Unset
    if isinstance(kind, Unset):
        json_kind = UNSET
    else:
        json_kind = kind
    params["kind"] = json_kind

    params["limit"] = limit

    json_cursor: None | str | Unset
    if isinstance(cursor, Unset):
        json_cursor = UNSET
    else:
        json_cursor = cursor
    params["cursor"] = json_cursor

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/jobs",
        "params": params,
    }

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> ErrorOut | PageJobOut | None:
    if response.status_code == 200:
        response_200 = PageJobOut.from_dict(response.json())

        return response_200

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


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[ErrorOut | PageJobOut]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    status: ListJobsStatusType0 | None | Unset = UNSET,
    kind: None | str | Unset = UNSET,
    limit: int | Unset = 50,
    cursor: None | str | Unset = UNSET,
    authorization: None | str | Unset = UNSET,
) -> Response[ErrorOut | PageJobOut]:
    """List Jobs

    Args:
        status (ListJobsStatusType0 | None | Unset):
        kind (None | str | Unset):
        limit (int | Unset):  Default: 50.
        cursor (None | str | Unset):
        authorization (None | str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorOut | PageJobOut]
    """

    kwargs = _get_kwargs(
        status=status,
        kind=kind,
        limit=limit,
        cursor=cursor,
        authorization=authorization,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    status: ListJobsStatusType0 | None | Unset = UNSET,
    kind: None | str | Unset = UNSET,
    limit: int | Unset = 50,
    cursor: None | str | Unset = UNSET,
    authorization: None | str | Unset = UNSET,
) -> ErrorOut | PageJobOut | None:
    """List Jobs

    Args:
        status (ListJobsStatusType0 | None | Unset):
        kind (None | str | Unset):
        limit (int | Unset):  Default: 50.
        cursor (None | str | Unset):
        authorization (None | str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorOut | PageJobOut
    """

    return sync_detailed(
        client=client,
        status=status,
        kind=kind,
        limit=limit,
        cursor=cursor,
        authorization=authorization,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    status: ListJobsStatusType0 | None | Unset = UNSET,
    kind: None | str | Unset = UNSET,
    limit: int | Unset = 50,
    cursor: None | str | Unset = UNSET,
    authorization: None | str | Unset = UNSET,
) -> Response[ErrorOut | PageJobOut]:
    """List Jobs

    Args:
        status (ListJobsStatusType0 | None | Unset):
        kind (None | str | Unset):
        limit (int | Unset):  Default: 50.
        cursor (None | str | Unset):
        authorization (None | str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorOut | PageJobOut]
    """

    kwargs = _get_kwargs(
        status=status,
        kind=kind,
        limit=limit,
        cursor=cursor,
        authorization=authorization,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    status: ListJobsStatusType0 | None | Unset = UNSET,
    kind: None | str | Unset = UNSET,
    limit: int | Unset = 50,
    cursor: None | str | Unset = UNSET,
    authorization: None | str | Unset = UNSET,
) -> ErrorOut | PageJobOut | None:
    """List Jobs

    Args:
        status (ListJobsStatusType0 | None | Unset):
        kind (None | str | Unset):
        limit (int | Unset):  Default: 50.
        cursor (None | str | Unset):
        authorization (None | str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorOut | PageJobOut
    """

    return (
        await asyncio_detailed(
            client=client,
            status=status,
            kind=kind,
            limit=limit,
            cursor=cursor,
            authorization=authorization,
        )
    ).parsed
