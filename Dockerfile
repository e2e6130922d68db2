# One image for every service of docker-compose.yml: the web app (grader web), the grading
# workers (grader worker) and the CLI. The course (exercises/, reference/) ships inside it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    GRADER_EXERCISES_DIR=/srv/grader

# libseccomp for the sandbox's seccomp filter.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libseccomp2 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /srv/grader
COPY pyproject.toml ./
COPY grader grader
COPY worker worker
COPY common common
COPY exercises exercises
COPY reference reference
# Editable, like the development install: the shipped course is found next to the package.
RUN pip install -e .

EXPOSE 8000
CMD ["grader", "web", "--host", "0.0.0.0", "--port", "8000"]
