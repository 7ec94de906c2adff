"""Files: sendPhoto and sendDocument (uploads or file ids), getFile and the download route."""

from __future__ import annotations

from aiohttp import web

from tests.emulators.telegram.formatting import message_caption
from tests.emulators.telegram.keyboards import checked_markup
from tests.emulators.telegram.model import JSON, ApiError, UploadedFile
from tests.emulators.telegram.store import MessageStore


class Files(MessageStore):
    """Photos and documents the bot sends, and the files it fetches back."""

    async def _send_photo(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        return await self._send_media("sendPhoto", "photo", params, files)

    async def _send_document(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        return await self._send_media("sendDocument", "document", params, files)

    async def _send_media(
        self, method: str, kind: str, params: JSON, files: dict[str, UploadedFile]
    ) -> JSON:
        chat = self._target(params.get("chat_id"))
        data, file_id, file_name = self._media(kind, params, files)
        caption, caption_entities = message_caption(params, self.limits)
        markup = checked_markup(params.get("reply_markup"), self.limits)
        reply_to = self._reply_target(chat, params)
        self._rate_windows.admit(self.rate_limits, self.clock, method, chat)
        message = self._store(
            method,
            chat,
            params,
            caption=caption or None,
            caption_entities=caption_entities,
            parse_mode=params.get("parse_mode"),
            reply_markup=markup,
            reply_to_message_id=reply_to,
            file_id=file_id,
            file_name=file_name,
            **{kind: data},
        )
        return self._sent_dict(message)

    def _media(
        self, kind: str, params: JSON, files: dict[str, UploadedFile]
    ) -> tuple[bytes | None, str, str | None]:
        value = params.get(kind)
        upload = files.get(kind)
        if isinstance(value, str) and value.startswith("attach://"):
            upload = files.get(value.removeprefix("attach://"))
        if upload is not None:
            if not upload.data:
                raise ApiError(400, "Bad Request: file must be non-empty")
            file_id = f"emu-{kind}-{self._serial()}"
            self.files[file_id] = upload.data
            return upload.data, file_id, upload.filename
        if isinstance(value, str) and value:
            return self.files.get(value), value, None
        raise ApiError(400, f"Bad Request: there is no {kind} in the request")

    async def _get_file(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        file_id = params.get("file_id")
        if not isinstance(file_id, str) or file_id not in self.files:
            raise ApiError(400, "Bad Request: invalid file_id")
        return {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_size": len(self.files[file_id]),
            "file_path": f"files/{file_id}",
        }

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        file_id = request.match_info["path"].rsplit("/", 1)[-1]
        if request.match_info["token"] != self.token or file_id not in self.files:
            return web.json_response(ApiError(404, "Not Found").body(), status=404)
        return web.Response(body=self.files[file_id], content_type="application/octet-stream")
