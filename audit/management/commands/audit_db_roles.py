from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from audit.roles import RoleProblem, apply_roles, role_problems, role_statements


class Command(BaseCommand):
    help = (
        "PostgreSQL: leave the application role with SELECT and INSERT only on the audit tables (no UPDATE, "
        "DELETE, TRUNCATE; ownership stays with the role that runs migrations). Run as the owner role."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--app-role", required=True, help="the role the web, API and worker processes use")
        parser.add_argument("--print", action="store_true", dest="print_only", help="print the SQL, change nothing")

    def handle(self, *args: Any, app_role: str, print_only: bool, **options: Any) -> None:
        try:
            if print_only:
                for problem in role_problems(app_role=app_role):
                    self.stderr.write(f"-- warning: {problem}")
                for statement in role_statements(app_role=app_role):
                    self.stdout.write(f"{statement};")
                return
            with transaction.atomic():
                statements = apply_roles(app_role=app_role)
        except RoleProblem as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"{len(statements)} statements applied: {app_role} may only SELECT and INSERT audit rows.")
