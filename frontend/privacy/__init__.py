"""監査: the privacy officer's console (個人情報保護管理者): ``views`` (thin adapters over ``audit.review`` and
``cases.review``), ``forms``, ``charts`` (the dashboard's SVG geometry) and ``csv`` (the disclosure report as a
CSV file). The audit log's codes are shown in words through ``audit.actions.label`` and the audit enums."""
