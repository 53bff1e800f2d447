"""The device's own web server: the page (live view, events, people) and the HTTP API, over the
same model session and gallery as the recognition loop (`pip install -e '.[serve]'`)."""
