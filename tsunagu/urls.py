from django.contrib import admin
from django.urls import include, path

from frontend.mfa import VerifiedAdminSite
from tsunagu.health import health

# Django admin only for operators who have given their second factor (as django-otp documents for OTPAdminSite).
admin.site.__class__ = VerifiedAdminSite

urlpatterns = [
    path("health/", health, name="health"),  # for load balancers and monitoring: no sign-in
    path("admin/", admin.site.urls),
    path("api/", include("api.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("frontend.urls")),
]

handler404 = "frontend.views.not_found"
handler403 = "frontend.views.forbidden"
# Under /api/ these answer with problem+json; elsewhere they are Django's defaults.
handler400 = "api.problems.handler400"
handler500 = "api.problems.handler500"
