"""The base of every project-scoped API view: the same membership and role rules as the UI.

`project_for_user` answers 404 to non-members (no existence leak) and 403 to members whose role is too
low; each view names the minimum role per HTTP method in `roles`. Objects inside a project are always
looked up through it, so another project's ids are 404 as well.
"""

from __future__ import annotations

from rest_framework.generics import GenericAPIView
from rest_framework.permissions import SAFE_METHODS

from api.serializers.jobs import JobSerializer
from projects.models import Role
from projects.selectors import project_for_user


class ProjectScopedView(GenericAPIView):
    """Resolves `self.project` from the URL's project_id with the role `roles[method]` requires."""

    roles: dict[str, str] = {}
    project = None

    def required_role(self) -> str:
        """The method's role from `roles`; reads default to viewer, and a write nobody listed to owner."""
        default = Role.VIEWER if self.request.method in SAFE_METHODS else Role.OWNER
        return self.roles.get(self.request.method, default)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # authentication and IsAuthenticated first: 401 before 404
        self.project = project_for_user(user=request.user, project_id=kwargs["project_id"], role=self.required_role())

    @property
    def membership(self):
        return self.project.current_membership

    def job_data(self, job, *, many: bool = False) -> dict | list:
        """A job (or page of jobs) as the API shows it to this member (what they may cancel included)."""
        return JobSerializer(job, many=many, context={"membership": self.membership}).data
