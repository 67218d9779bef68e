// Query keys per resource, shared by the pages that read a resource and by the push events that
// make it stale.

export const applicationKeys = {
  all: ['applications'] as const,
  lists: () => ['applications', 'list'] as const,
  searches: () => ['applications', 'search'] as const,
  one: (id: string) => ['applications', 'one', id] as const,
  stats: () => ['applications', 'stats'] as const,
};

export const processKeys = {
  all: ['process'] as const,
  one: (applicationId: string) => ['process', 'one', applicationId] as const,
  lists: () => ['process', 'list'] as const,
  budget: (applicant: string, month: string) => ['process', 'budget', applicant, month] as const,
};
