"""gunicorn settings for htc behind deploy/nginx/htc.conf: `gunicorn -c deploy/gunicorn.conf.py htc_app.wsgi`."""

import os

bind = os.environ.get("HTC_BIND", "127.0.0.1:8000")  # only the proxy talks to gunicorn
workers = int(os.environ.get("HTC_WEB_WORKERS", "3"))
timeout = 300  # large uploads are validated inside the request; training never is (it is a job)
forwarded_allow_ips = "127.0.0.1,::1"
accesslog = "-"
errorlog = "-"
