from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

app_name = "frontend"

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(template_name="frontend/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.client_list, name="client_list"),
    path("clients/<str:client_id>/", views.client_detail, name="client_detail"),
]
