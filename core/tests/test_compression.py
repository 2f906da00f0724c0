from django.http import HttpResponse, StreamingHttpResponse
from django.test import RequestFactory

from core.compression import MIN_COMPRESS_BYTES, NonStreamingGZipMiddleware


def respond(response):
    request = RequestFactory().get("/", headers={"Accept-Encoding": "gzip"})
    return NonStreamingGZipMiddleware(lambda request: response)(request)


def test_a_response_under_one_segment_is_sent_as_is():
    body = b'{"ticker": "AAPL", "side": "buy"}' * ((MIN_COMPRESS_BYTES - 1) // 33)
    response = respond(HttpResponse(body, content_type="application/json"))
    assert not response.has_header("Content-Encoding") and response.content == body


def test_a_larger_response_is_gzipped():
    response = respond(HttpResponse(b"<tr><td>AAPL</td></tr>" * 100))
    assert response["Content-Encoding"] == "gzip" and "Accept-Encoding" in response["Vary"]


def test_a_stream_is_never_gzipped():
    response = respond(StreamingHttpResponse(iter([b"data: 1\n\n"] * 200)))
    assert not response.has_header("Content-Encoding")
