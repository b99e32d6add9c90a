"""The domain of xbr: the review lifecycle, templates, the store and the service layer.

Nothing here imports prefect or apprise, so the whole lifecycle is testable without a server.
"""
