"""Media endpoints of the emulator, as Meta's Cloud API reference (Media) describes them.

``POST /{version}/{phone_number_id}/media`` (multipart: messaging_product, file, type) → ``{"id"}``;
``GET /{version}/{media_id}`` → a download URL valid for minutes; ``DELETE /{version}/{media_id}``;
``GET /whatsapp_business/attachments/?mid&ext&hash`` → the bytes, for the same bearer token only.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import BodyPartReader, hdrs, web
from aiohttp.helpers import content_disposition_header

from sandbox.meta.auth import check_token
from sandbox.meta.emulator_state import EMULATOR
from sandbox.meta.errors import MetaError, unsupported_request
from sandbox.meta.ids import new_media_id
from sandbox.meta.media_store import (
    SIZE_LIMITS,
    UPLOAD_TYPES,
    DownloadUrls,
    MediaObject,
    MediaTooLargeForStore,
    base_mime,
)

VERSION = r"{version:v\d+\.\d+}"
_FIELD_LIMIT = 4096  # bytes of a plain form field (messaging_product, type)
_CHUNK = 64 * 1024


def add_media_routes(app: web.Application) -> None:
    app.router.add_post(f"/{VERSION}/{{phone_number_id}}/media", upload_media)
    app.router.add_get(f"/{VERSION}/{{media_id}}", retrieve_media)
    app.router.add_delete(f"/{VERSION}/{{media_id}}", delete_media)
    app.router.add_get(DownloadUrls.PATH, download_media)


@dataclass
class UploadForm:
    fields: dict[str, str]
    data: bytes | None = None
    file_type: str | None = None
    filename: str | None = None


async def _read_part(part: BodyPartReader, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := await part.read_chunk(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise MetaError(131053, f"The file is larger than the largest media WhatsApp accepts ({limit} bytes).")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_upload_form(request: web.Request) -> UploadForm:
    """Stream the multipart body, refusing a file past WhatsApp's largest limit before it is all read."""
    form = UploadForm(fields={})
    if request.content_type != "multipart/form-data":
        return form  # Graph then finds the required parameters missing
    async for part in await request.multipart():
        if not isinstance(part, BodyPartReader) or not part.name:
            continue
        if part.name == "file":
            form.data = await _read_part(part, max(SIZE_LIMITS.values()))
            form.file_type = part.headers.get(hdrs.CONTENT_TYPE)
            form.filename = part.filename
        else:
            form.fields[part.name] = (await _read_part(part, _FIELD_LIMIT)).decode(errors="replace")
    return form


def _required(param: str) -> MetaError:
    detail = f"The parameter {param} is required."
    return MetaError(100, detail, message=f"(#100) {detail}")


async def upload_media(request: web.Request) -> web.Response:
    emulator = request.app[EMULATOR]
    check_token(request, emulator.settings, emulator.accounts, request.match_info["phone_number_id"])
    form = await read_upload_form(request)
    product = form.fields.get("messaging_product")
    if not product:
        raise _required("messaging_product")
    if product != "whatsapp":
        raise MetaError(100, f'Param messaging_product must be one of {{WHATSAPP}} - got "{product}".')
    if form.data is None:
        raise _required("file")
    # The documented "type" parameter wins; Meta's newer examples give the type on the file part instead.
    mime_type = (form.fields.get("type") or form.file_type or "").strip()
    kind = UPLOAD_TYPES.get(base_mime(mime_type))
    if kind is None:
        detail = (
            f"Param file must be a file with one of the following types: {', '.join(UPLOAD_TYPES)}. "
            f"Received file of type '{mime_type}'."
        )
        raise MetaError(100, detail, message=f"(#100) {detail}")
    size, limit = len(form.data), SIZE_LIMITS[kind]
    if size > limit:
        raise MetaError(131053, f"{kind} media may be at most {limit} bytes; this {mime_type} file has {size}.")
    phone_number_id = request.match_info["phone_number_id"]
    media = MediaObject(new_media_id(), phone_number_id, kind, mime_type, form.data, form.filename)
    try:
        emulator.media.add(media)
    except MediaTooLargeForStore as exc:
        raise MetaError(131053, str(exc)) from exc
    return web.json_response({"id": media.id})


def _find(request: web.Request, method: str) -> MediaObject:
    media_id = request.match_info["media_id"]
    media = request.app[EMULATOR].media.get(media_id, request.query.get("phone_number_id") or None)
    if media is None:
        raise unsupported_request(method, media_id)
    return media


async def retrieve_media(request: web.Request) -> web.Response:
    emulator = request.app[EMULATOR]
    check_token(request, emulator.settings, emulator.accounts)
    media = _find(request, "get")
    # The URL names this emulator as the client reached it, as Meta's names its lookaside host.
    url = emulator.media_urls.issue(str(request.url.origin()), media.id)
    return web.json_response(media.retrieve_json(url))


async def delete_media(request: web.Request) -> web.Response:
    emulator = request.app[EMULATOR]
    check_token(request, emulator.settings, emulator.accounts)
    emulator.media.delete(_find(request, "delete").id)
    return web.json_response({"success": True})


async def download_media(request: web.Request) -> web.Response:
    emulator = request.app[EMULATOR]
    check_token(request, emulator.settings, emulator.accounts)  # a bare GET of the URL gets nothing, as at Meta
    query = request.query
    media_id = emulator.media_urls.resolve(query.get("mid", ""), query.get("ext", ""), query.get("hash", ""))
    media = emulator.media.get(media_id) if media_id is not None else None
    if media is None:
        raise web.HTTPNotFound(text="URL expired or media not found")
    data = media.data
    if emulator.faults.take_media_corruption(media.phone_number_id):
        data = data[:-1] + bytes([data[-1] ^ 0xFF]) if data else b"\x00"
    headers = {hdrs.CONTENT_TYPE: media.mime_type}
    if media.filename:
        headers[hdrs.CONTENT_DISPOSITION] = content_disposition_header("attachment", filename=media.filename)
    return web.Response(body=data, headers=headers)
