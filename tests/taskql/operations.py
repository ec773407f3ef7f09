"""GraphQL documents the API tests send (the front end's own live in tests/contract/)."""

TASK = "id userId title description completed createdAt updatedAt"
CREATE = f"""mutation($userId: ID!, $input: CreateTaskInput!) {{
  createTask(userId: $userId, input: $input) {{ {TASK} }} }}"""
LIST = f"""query($userId: ID!, $filter: TaskFilter, $orderBy: TaskOrder, $first: Int,
  $after: String) {{
  tasks(userId: $userId, filter: $filter, orderBy: $orderBy, first: $first, after: $after) {{
    items {{ {TASK} }} total pageInfo {{ hasNextPage endCursor }} }} }}"""
GET = f"query($userId: ID!, $id: ID!) {{ task(userId: $userId, id: $id) {{ {TASK} }} }}"
UPDATE = f"""mutation($userId: ID!, $id: ID!, $input: UpdateTaskInput!) {{
  updateTask(userId: $userId, id: $id, input: $input) {{ {TASK} }} }}"""
TOGGLE = f"""mutation($userId: ID!, $id: ID!) {{
  toggleTaskComplete(userId: $userId, id: $id) {{ {TASK} }} }}"""
DELETE = "mutation($userId: ID!, $id: ID!) { deleteTask(userId: $userId, id: $id) }"
