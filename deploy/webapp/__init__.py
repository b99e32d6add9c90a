"""The xbr web app: staff and client contacts sign in (an emailed link or OpenID Connect) and
find their work, the reviews, the board and the portfolio; every change goes through the same
services as the CLI, as the signed-in person."""
