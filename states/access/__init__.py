"""Who is signed in to the web app: emailed sign-in links and the sessions they open."""
