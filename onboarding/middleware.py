"""Placeholder replaced by the guard; keeps settings importable while the wizard is built."""


class OnboardingGuardMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)
