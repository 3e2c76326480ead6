from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from resolver.login_limits import LimitedAuthenticationForm, answer_lockouts_with_429
from support.console import autonomy, learning, tasks, views

app_name = "console"

urlpatterns = [
    path("", views.queue, name="queue"),
    path(
        "login/",
        # Failed log-ins are counted and lock out (429): resolver/login_limits.py.
        answer_lockouts_with_429(
            auth_views.LoginView.as_view(
                template_name="console/login.html",
                authentication_form=LimitedAuthenticationForm,
                redirect_authenticated_user=True,
            )
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(next_page="console:login"), name="logout"),
    path("conversations/<uuid:conversation_id>/", views.conversation, name="conversation"),
    path("conversations/<uuid:conversation_id>/reply/", views.reply, name="reply"),
    path("conversations/<uuid:conversation_id>/resolve/", views.resolve, name="resolve"),
    path("drafts/<uuid:draft_id>/approve/", views.approve, name="approve"),
    path("drafts/<uuid:draft_id>/reject/", views.reject, name="reject"),
    path("drafts/<uuid:draft_id>/escalate/", views.escalate, name="escalate"),
    path("drafts/<uuid:draft_id>/relabel/", views.relabel, name="relabel"),
    path("drafts/<uuid:draft_id>/correct/", views.correct, name="correct"),
    path("actions/<uuid:action_id>/approve/", views.approve_action, name="approve-action"),
    path("actions/<uuid:action_id>/reject/", views.reject_action, name="reject-action"),
    path("messages/<uuid:message_id>/reprocess/", views.reprocess, name="reprocess"),
    path("messages/<uuid:message_id>/original/", views.email_original, name="email-original"),
    path("kb/<int:kb_id>/", views.kb_document, name="kb"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("tasks/", tasks.tasks_page, name="tasks"),
    path("tasks/<uuid:task_id>/done/", tasks.done, name="task-done"),
    path("tasks/<uuid:task_id>/reopen/", tasks.reopen, name="task-reopen"),
    path("tasks/<uuid:task_id>/take/", tasks.take, name="task-take"),
    path("conversations/<uuid:conversation_id>/tasks/", tasks.add, name="add-task"),
    path("autonomy/", autonomy.autonomy_page, name="autonomy"),
    path("autonomy/switch/", autonomy.switch_intent, name="autonomy-switch"),
    path("autonomy/kill-switch/", autonomy.kill_switch, name="autonomy-kill-switch"),
    path("learning/", learning.proposals, name="learning"),
    path("learning/<int:proposal_id>/approve/", learning.approve, name="approve-proposal"),
    path("learning/<int:proposal_id>/dismiss/", learning.dismiss, name="dismiss-proposal"),
]
