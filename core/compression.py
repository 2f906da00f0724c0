"""Gzip for ordinary responses (the page is about 40 KB of HTML, 10 KB gzipped); never for streams.

Django's GZipMiddleware would also wrap a streaming response, and a gzip stream holds bytes back until
its buffer fills: the price streams would stop arriving tick by tick. Static files are compressed ahead
of time by the static pipeline. BREACH: Django's middleware pads each response with random bytes and the
CSRF token is masked per response.
"""

from django.middleware.gzip import GZipMiddleware

# Below this size a response fits one TCP segment compressed or not, so compressing it (plus Django's up to 100
# random bytes against BREACH) saves no packet and costs CPU on every call: an order's answer is about 300 bytes.
MIN_COMPRESS_BYTES = 1024


class NonStreamingGZipMiddleware(GZipMiddleware):
    def process_response(self, request, response):
        if response.streaming or len(response.content) < MIN_COMPRESS_BYTES:
            return response
        return super().process_response(request, response)
