"""The API's endpoints, one `APIRouter` per resource; `crowdnb.server.app` mounts them under
`/api/v1`."""
