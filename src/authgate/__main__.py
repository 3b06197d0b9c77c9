from authgate.cli import app

app()
