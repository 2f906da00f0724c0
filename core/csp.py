"""A Content-Security-Policy header on every response (Django 5.2 has none built in; 6.0 will).

Twelve lines instead of a dependency: the policy is one string in settings, and a streaming response (the
price streams) passes through untouched apart from the header.
"""

from __future__ import annotations

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings


class ContentSecurityPolicyMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.policy = settings.CONTENT_SECURITY_POLICY
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self._acall(request)
        return self._apply(self.get_response(request))

    async def _acall(self, request):
        return self._apply(await self.get_response(request))

    def _apply(self, response):
        if self.policy and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = self.policy
        return response
