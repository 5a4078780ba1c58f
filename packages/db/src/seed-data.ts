/** Word lists for plausible demo data. Domains use the reserved `.example` TLD so no seeded
 * address can ever reach a real inbox. */

export const FIRST_NAMES = [
  'James', 'Mary', 'Robert', 'Patricia', 'John', 'Jennifer', 'Michael', 'Linda', 'David', 'Elizabeth',
  'William', 'Barbara', 'Richard', 'Susan', 'Joseph', 'Jessica', 'Thomas', 'Sarah', 'Charles', 'Karen',
  'Daniel', 'Lisa', 'Matthew', 'Nancy', 'Anthony', 'Sandra', 'Mark', 'Ashley', 'Steven', 'Emily',
  'Andrew', 'Michelle', 'Joshua', 'Amanda', 'Kevin', 'Melissa', 'Brian', 'Stephanie', 'George', 'Rebecca',
  'Priya', 'Arjun', 'Mei', 'Wei', 'Sofia', 'Lucas', 'Amara', 'Kwame', 'Yuki', 'Hiroshi',
  'Fatima', 'Omar', 'Ingrid', 'Lars', 'Chloe', 'Mateo', 'Isabella', 'Noah', 'Aisha', 'Diego',
];

export const LAST_NAMES = [
  'Smith', 'Johnson', 'Williams', 'Brown', 'Jones', 'Garcia', 'Miller', 'Davis', 'Rodriguez', 'Martinez',
  'Hernandez', 'Lopez', 'Gonzalez', 'Wilson', 'Anderson', 'Thomas', 'Taylor', 'Moore', 'Jackson', 'Martin',
  'Lee', 'Perez', 'Thompson', 'White', 'Harris', 'Sanchez', 'Clark', 'Ramirez', 'Lewis', 'Robinson',
  'Walker', 'Young', 'Allen', 'King', 'Wright', 'Scott', 'Torres', 'Nguyen', 'Hill', 'Flores',
  'Patel', 'Shah', 'Chen', 'Wang', 'Kim', 'Park', 'Müller', 'Schmidt', 'Rossi', 'Dubois',
  'Okafor', 'Mensah', 'Tanaka', 'Sato', 'Johansson', 'Nielsen', 'Kowalski', 'Novak', 'Silva', 'Costa',
];

export const COMPANY_PREFIXES = [
  'Bright', 'North', 'Blue', 'Iron', 'Silver', 'Red', 'Summit', 'Clear', 'Swift', 'Green',
  'Open', 'True', 'Bold', 'Deep', 'Prime', 'Quantum', 'Nova', 'Atlas', 'Harbor', 'Pine',
  'Cedar', 'Granite', 'Falcon', 'Vertex', 'Orbit', 'Lumen', 'Coral', 'Maple', 'Stone', 'Sky',
  'Echo', 'Beacon', 'Cobalt', 'Aurora', 'Zenith', 'Meridian', 'Polar', 'Copper', 'Ember', 'Tidal',
];

export const COMPANY_SUFFIXES = [
  'lane', 'wind', 'path', 'works', 'stack', 'field', 'point', 'bridge', 'forge', 'labs',
  'ware', 'scale', 'grid', 'loop', 'line', 'base', 'flow', 'gate', 'mark', 'peak',
  'cloud', 'wave', 'sight', 'craft', 'logic', 'shift', 'core', 'track', 'yard', 'view',
];

export const COMPANY_KINDS = [
  'Analytics', 'Logistics', 'Health', 'Software', 'Robotics', 'Capital', 'Energy', 'Foods', 'Security', 'Media',
  'Systems', 'Labs', 'Partners', 'Networks', 'Bio', 'Retail', 'Payments', 'Mobility', 'Learning', 'Design',
];

export const INDUSTRIES = [
  'Software', 'Logistics', 'Healthcare', 'Financial Services', 'Manufacturing', 'Retail', 'Education',
  'Energy', 'Media', 'Cybersecurity', 'Biotech', 'Real Estate', 'Hospitality', 'Telecommunications',
];

export const TITLES = [
  'CEO', 'Founder', 'Co-Founder', 'CTO', 'VP of Sales', 'Head of Growth', 'Marketing Director', 'COO',
  'VP of Engineering', 'Head of Operations', 'Sales Manager', 'Procurement Lead', 'CFO', 'Product Manager',
  'Director of Partnerships', 'Revenue Operations Manager', 'Head of People', 'IT Director',
];

export const LOCATIONS = [
  'San Francisco, CA', 'New York, NY', 'Austin, TX', 'Seattle, WA', 'Boston, MA', 'Chicago, IL', 'Denver, CO',
  'London, UK', 'Berlin, Germany', 'Amsterdam, Netherlands', 'Toronto, Canada', 'Sydney, Australia',
  'Singapore', 'Dublin, Ireland', 'Paris, France', 'Stockholm, Sweden', 'Bangalore, India', 'Lagos, Nigeria',
];

export const TAGS = ['inbound', 'webinar', 'conference', 'referral', 'enterprise', 'smb', 'priority', 'trial-user'];

export const CAMPAIGNS = [
  {
    name: 'Q3 Logistics Outreach',
    steps: [
      { subject: 'Quick question about {{company}} shipping costs', delayDays: 0, condition: 'always' },
      { subject: 'Re: Quick question about {{company}} shipping costs', delayDays: 3, condition: 'no_reply' },
      { subject: 'Last note, {{first_name}}', delayDays: 5, condition: 'no_reply' },
    ],
  },
  {
    name: 'Series A Founders: Revenue Ops',
    steps: [
      { subject: '{{first_name}}, congrats on the raise', delayDays: 0, condition: 'always' },
      { subject: 'How teams like {{company}} scale outbound', delayDays: 2, condition: 'no_reply' },
      { subject: 'Worth a 15-minute call?', delayDays: 4, condition: 'opened' },
    ],
  },
] as const;
