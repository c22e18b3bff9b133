from stack_helpers import stack, stack_aws, user  # noqa: F401 - pytest fixtures
