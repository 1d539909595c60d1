"""One router per resource; ``service.web.app`` mounts them."""
